package api

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/traces"
)

// traceBuilder builds the traces of GET /traces and GET /orders/{id}/trace:
// the events of the store, the read models' nodes, the fulfilment saga's
// steps (from its read model), and those of every source in
// Config.TraceSources.
func (s *Server) traceBuilder() *traces.Builder {
	sources := make([]traces.Source, 0, 2+len(s.cfg.TraceSources))
	if s.cfg.ReadModels != nil {
		sources = append(sources, traces.Projections{Models: s.cfg.ReadModels}, traces.Sagas{Models: s.cfg.ReadModels})
	}
	sources = append(sources, s.cfg.TraceSources...)
	return traces.New(s.cfg.Store, sources...)
}

func (s *Server) getTrace(w http.ResponseWriter, r *http.Request) {
	id, err := url.PathUnescape(mux.Vars(r)["correlation_id"])
	if err != nil || id == "" || len(id) > maxFilterValue || !visibleASCII(id) {
		s.fail(w, r, &requestError{status: http.StatusUnprocessableEntity, code: "invalid_value", field: "correlation_id",
			detail: "a correlation ID is 1 to 128 visible ASCII characters (no spaces), as X-Correlation-ID takes them"})
		return
	}
	t, err := s.traces.Trace(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// orderTraces is the answer of GET /orders/{id}/trace.
type orderTraces struct {
	OrderID string         `json:"order_id"`
	Traces  []traces.Trace `json:"traces"`
}

// getOrderTrace answers the traces of every flow that wrote to the
// order, in the order the flows first did.
func (s *Server) getOrderTrace(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	recorded, err := s.cfg.Orders.Events(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := orderTraces{OrderID: id, Traces: []traces.Trace{}}
	seen := map[string]bool{}
	for _, e := range recorded {
		c := eventstore.CorrelationID(e.Metadata)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		t, err := s.traces.Trace(r.Context(), c)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out.Traces = append(out.Traces, t)
	}
	writeJSON(w, http.StatusOK, out)
}
