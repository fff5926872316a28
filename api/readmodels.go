package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/gorilla/mux"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/orders"
	"github.com/orderstore/orderstore/projections"
	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/orderlist"
	"github.com/orderstore/orderstore/projections/sagas"
	"github.com/orderstore/orderstore/projections/stock"
)

// ReadModels is what the read-model routes need of the projections.
type ReadModels interface {
	// WaitFor blocks until the projection has applied position.
	WaitFor(ctx context.Context, name string, position uint64) error
	StockPage(ctx context.Context, after string, limit int) (stock.Page, uint64, error)
	StockItem(ctx context.Context, sku string) (stock.Item, uint64, error)
	AnalyticsWindow(ctx context.Context, w analytics.Window) (analytics.Report, uint64, error)
	Orders(ctx context.Context, f orderlist.Filter) (orderlist.Page, uint64, error)
	// Fulfilment returns an order's saga; sagas.ErrNotFound if it has none.
	Fulfilment(ctx context.Context, id string) (sagas.Saga, uint64, error)
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

// beyondHeadError is a min_position that no event of the store has
// reached: waiting cannot help, as no command has answered it.
type beyondHeadError struct {
	position, head uint64
}

func (e *beyondHeadError) Error() string {
	return fmt.Sprintf("min_position=%d is beyond the head of the event store (%d): no command has answered it yet; "+
		"pass the X-Position of a command's answer", e.position, e.head)
}

// awaitPosition honours ?min_position=P: it waits, bounded, until the
// projection has applied P. A P beyond the store's head is answered at
// once (see reachable).
func (s *Server) awaitPosition(r *http.Request, name string) error {
	if s.cfg.ReadModels == nil {
		return errNoReadModels
	}
	p, err := queryInt(r, "min_position", 0, 0, 1<<62)
	if err != nil || p == 0 {
		return err
	}
	if wait, err := s.reachable(r.Context(), name, uint64(p)); !wait || err != nil {
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

// reachable tells whether a wait for position can end: it can if position
// is at or before the store's head. Positions are tokens: they are
// compared, never computed. A position past the head is confirmed by the
// store (the embedded store answers an append a moment before it
// publishes its new head) and then refused with a beyondHeadError. While
// the store does not answer, a read model that has reached position is
// served without waiting; one that has not gets the store's error.
func (s *Server) reachable(ctx context.Context, name string, position uint64) (wait bool, err error) {
	head, err := s.cfg.Store.Head(ctx)
	if err == nil && position <= head {
		return true, nil
	}
	if err == nil {
		_, err = s.cfg.Store.ReadAll(ctx, position, 1)
		switch {
		case err == nil:
			return true, nil // published since
		case errors.Is(err, eventstore.ErrInvalidPosition):
			return false, &beyondHeadError{position: position, head: head}
		}
	}
	st, serr := s.cfg.ReadModels.Status(ctx)
	if serr == nil {
		for _, ps := range st {
			if ps.Name == name && ps.Position >= position {
				return false, nil
			}
		}
	}
	return false, fmt.Errorf("min_position: %w", err)
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
	after, limit, err := stockPage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.readModel(w, r, "stock", func(ctx context.Context) (any, uint64, error) {
		page, pos, err := s.cfg.ReadModels.StockPage(ctx, after, limit)
		out := map[string]any{"items": page.Items}
		if page.Items == nil {
			out["items"] = []stock.Item{}
		}
		if page.Next != "" {
			out["next"] = page.Next
		}
		return out, pos, err
	})
}

func (s *Server) getStock(w http.ResponseWriter, r *http.Request) {
	s.readModel(w, r, "stock", func(ctx context.Context) (any, uint64, error) {
		return s.cfg.ReadModels.StockItem(ctx, mux.Vars(r)["sku"])
	})
}

func (s *Server) getAnalytics(w http.ResponseWriter, r *http.Request) {
	window, err := analyticsWindow(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.readModel(w, r, "analytics", func(ctx context.Context) (any, uint64, error) {
		return s.cfg.ReadModels.AnalyticsWindow(ctx, window)
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

// maxRebuildKeys bounds the Idempotency-Keys of rebuilds kept.
const maxRebuildKeys = 1024

// rebuildKeys remembers the projection each Idempotency-Key started a
// rebuild of, so that a retried request answers the first outcome and
// starts nothing. Keys live in this process only, the newest
// maxRebuildKeys of them: that suffices because a rebuild is idempotent in
// effect (it refills the same read model from the same log), so a repeat
// that gets past them (after a restart, or after a thousand other keys)
// costs a second replay, or a 409 rebuild_running while the first runs,
// and changes no answer. Only accepted rebuilds are kept: a refused one
// started nothing, and its retry is a new attempt.
type rebuildKeys struct {
	mu    sync.Mutex
	names map[string]string // key → projection
	order []string          // keys, oldest first
}

// start calls rebuild for name unless key (if not "") already started
// one: then it reports replayed, or ErrIdempotencyKeyReused if that one
// was of another projection.
func (k *rebuildKeys) start(key, name string, rebuild func(name string) error) (replayed bool, err error) {
	if key == "" {
		return false, rebuild(name)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if first, ok := k.names[key]; ok {
		if first != name {
			return false, fmt.Errorf("rebuild %s: key of a rebuild of %s: %w", name, first, orders.ErrIdempotencyKeyReused)
		}
		return true, nil
	}
	if err := rebuild(name); err != nil {
		return false, err
	}
	if k.names == nil {
		k.names = map[string]string{}
	}
	if len(k.order) == maxRebuildKeys {
		delete(k.names, k.order[0])
		k.order = k.order[1:]
	}
	k.names[key] = name
	k.order = append(k.order, key)
	return false, nil
}

func (s *Server) rebuildProjection(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ReadModels == nil {
		s.fail(w, r, errNoReadModels)
		return
	}
	key, err := idempotencyKey(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name := mux.Vars(r)["name"]
	replayed, err := s.rebuilds.start(key, name, s.cfg.ReadModels.Rebuild)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/projections")
	writeJSON(w, http.StatusAccepted, map[string]string{"projection": name, "state": "rebuilding",
		"detail": "rebuild started; follow its progress at GET /projections"})
}
