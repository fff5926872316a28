package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/orderstore/orderstore/fulfilment"
	"github.com/orderstore/orderstore/projections/sagas"
)

// Fulfilment is what GET /orders/{id}/fulfilment needs of the running
// saga (fulfilment.Saga): the failure it last ended in for an order, and
// its payment timeout.
type Fulfilment interface {
	Failure(id string) (fulfilment.Failure, bool)
	PaymentTimeout() time.Duration
}

// fulfilmentView is the answer of GET /orders/{id}/fulfilment.
type fulfilmentView struct {
	OrderID  string       `json:"order_id"`
	State    string       `json:"state"`
	Steps    []sagas.Step `json:"steps"`
	Deadline *time.Time   `json:"deadline,omitempty"`
	Error    string       `json:"error,omitempty"`
	FailedAt *time.Time   `json:"failed_at,omitempty"`
}

// States of the view beyond the read model's.
const (
	fulfilmentNone   = "none"
	fulfilmentFailed = "failed"
)

func (s *Server) getFulfilment(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	order, _, err := s.cfg.Orders.Load(r.Context(), id, -1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if s.cfg.ReadModels == nil {
		s.fail(w, r, errNoReadModels)
		return
	}
	if err := s.awaitPosition(r, sagas.Name); err != nil {
		s.fail(w, r, err)
		return
	}
	v := fulfilmentView{OrderID: id, State: fulfilmentNone, Steps: []sagas.Step{}}
	saga, pos, err := s.cfg.ReadModels.Fulfilment(r.Context(), id)
	switch {
	case errors.Is(err, sagas.ErrNotFound):
		if order.ReserveStock {
			v.State = sagas.StateReserving // placed, not yet in the read model
		}
	case err != nil:
		s.fail(w, r, err)
		return
	default:
		v.State, v.Steps = saga.State, saga.Steps
		var timeout time.Duration
		if s.cfg.Fulfilment != nil {
			timeout = s.cfg.Fulfilment.PaymentTimeout()
		}
		if saga.State == sagas.StateReserved && !saga.Paid && timeout > 0 && !saga.ReservedAt.IsZero() {
			d := saga.ReservedAt.Add(timeout)
			v.Deadline = &d
		}
	}
	if s.cfg.Fulfilment != nil && order.ReserveStock {
		if f, failed := s.cfg.Fulfilment.Failure(id); failed {
			v.State, v.Error, v.FailedAt = fulfilmentFailed, f.Error, &f.At
		}
	}
	w.Header().Set(headerPosition, strconv.FormatUint(pos, 10))
	writeJSON(w, http.StatusOK, v)
}
