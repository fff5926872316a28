package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/orderstore/orderstore/projections"
	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/stock"
)

// ReadModels is what the read-model routes need of the projections.
type ReadModels interface {
	// WaitFor blocks until the projection has applied position.
	WaitFor(ctx context.Context, name string, position uint64) error
	Stock(ctx context.Context) ([]stock.Item, uint64, error)
	StockItem(ctx context.Context, sku string) (stock.Item, uint64, error)
	Analytics(ctx context.Context) (analytics.Report, uint64, error)
	Status(ctx context.Context) ([]projections.Status, error)
	Rebuild(name string) error
}

// waitError is a min_position wait that ran out; position is where the
// projection is.
type waitError struct {
	position uint64
	msg      string
}

func (e *waitError) Error() string { return e.msg }

// awaitPosition honours ?min_position=P: it waits, bounded, until the
// projection has applied P.
func (s *Server) awaitPosition(r *http.Request, name string) error {
	if s.cfg.ReadModels == nil {
		return errNoReadModels
	}
	p, err := queryInt(r, "min_position", 0, 0, 1<<62)
	if err != nil || p == 0 {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WaitTimeout)
	defer cancel()
	err = s.cfg.ReadModels.WaitFor(ctx, name, uint64(p))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || r.Context().Err() != nil {
		return err
	}
	var at uint64
	if st, serr := s.cfg.ReadModels.Status(r.Context()); serr == nil {
		for _, ps := range st {
			if ps.Name == name {
				at = ps.Position
			}
		}
	}
	return &waitError{position: at, msg: fmt.Sprintf(
		"the %s projection has not reached position %d within %s (it is at %d); retry, or read without min_position",
		name, p, s.cfg.WaitTimeout, at)}
}

// errNoReadModels answers the read-model routes of a server built without
// read models.
var errNoReadModels = errors.New("read models are not available in this process")

func (s *Server) readModel(w http.ResponseWriter, r *http.Request, name string, query func(ctx context.Context) (any, uint64, error)) {
	if err := s.awaitPosition(r, name); err != nil {
		s.fail(w, r, err)
		return
	}
	v, pos, err := query(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set(headerPosition, strconv.FormatUint(pos, 10))
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) listStock(w http.ResponseWriter, r *http.Request) {
	s.readModel(w, r, "stock", func(ctx context.Context) (any, uint64, error) {
		items, pos, err := s.cfg.ReadModels.Stock(ctx)
		if items == nil {
			items = []stock.Item{}
		}
		return map[string]any{"items": items}, pos, err
	})
}

func (s *Server) getStock(w http.ResponseWriter, r *http.Request) {
	s.readModel(w, r, "stock", func(ctx context.Context) (any, uint64, error) {
		return s.cfg.ReadModels.StockItem(ctx, mux.Vars(r)["sku"])
	})
}

func (s *Server) getAnalytics(w http.ResponseWriter, r *http.Request) {
	s.readModel(w, r, "analytics", func(ctx context.Context) (any, uint64, error) {
		return s.cfg.ReadModels.Analytics(ctx)
	})
}

func (s *Server) getProjections(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ReadModels == nil {
		s.fail(w, r, errNoReadModels)
		return
	}
	st, err := s.cfg.ReadModels.Status(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"projections": st})
}

func (s *Server) rebuildProjection(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ReadModels == nil {
		s.fail(w, r, errNoReadModels)
		return
	}
	name := mux.Vars(r)["name"]
	if err := s.cfg.ReadModels.Rebuild(name); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/projections")
	writeJSON(w, http.StatusAccepted, map[string]string{"projection": name, "state": "rebuilding",
		"detail": "rebuild started; follow its progress at GET /projections"})
}
