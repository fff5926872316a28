package fulfilment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
)

// stockCache keeps the state of each SKU's stock stream the saga has
// touched, so that a step reads only the events appended since: stock
// streams grow with every order of their SKU. The cache is only ever
// behind the stream, never ahead: it moves on events read from the stream
// or appended to it.
type stockCache struct {
	mu   sync.Mutex
	skus map[string]*skuState
}

// skuState is one SKU's cached stock and the steps waiting for it. The
// steps of one SKU are taken in groups: while one group's append is
// committing, the steps that arrive queue, and the next group takes all of
// them into one append (see stockStep).
type skuState struct {
	mu      sync.Mutex
	queue   []*stockReq
	running bool // a goroutine is taking groups from queue

	// Owned by the goroutine taking groups.
	stock   domain.Stock
	version int64 // of the last event applied; NoVersion before any
	loaded  bool  // read from the stream at least once
}

// stockReq is one step waiting in a SKU's queue.
type stockReq struct {
	ctx  context.Context
	cmd  domain.Command
	c    cause
	done chan struct{} // closed once hold and err are set
	hold domain.StockHold
	err  error
}

// maxGroup bounds the steps of one SKU decided and appended together.
const maxGroup = 256

func (c *stockCache) get(sku string) *skuState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.skus[sku]
	if st == nil {
		st = &skuState{version: eventstore.NoVersion, stock: domain.Stock{SKU: sku}}
		c.skus[sku] = st
	}
	return st
}

// catchUp applies the events of the SKU's stream after st.version.
func (st *skuState) catchUp(ctx context.Context, store eventstore.Store, stream string) error {
	recorded, err := store.ReadStream(ctx, stream, st.version+1, 0)
	if errors.Is(err, eventstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", stream, err)
	}
	for _, r := range recorded {
		e, err := domain.Decode(r.Type, r.Data)
		if errors.Is(err, domain.ErrUnknownEventType) {
			st.version = r.Version // a newer kind of stock event: not ours to judge
			continue
		}
		if err != nil {
			return fmt.Errorf("load %s: event %d: %w", stream, r.Version, err)
		}
		st.stock.Apply(e)
		st.version = r.Version
	}
	return nil
}

// stockStep carries out cmd on sku's stock stream, idempotently (a step
// already taken decides no events), retrying on a version conflict with
// another writer. It returns what the SKU holds for the order afterwards.
//
// Steps on one SKU are not appended one after the other, each waiting for
// the commit of the one before: the steps that queue while a group's append
// commits are decided together, in turn on the state each leaves, and
// appended in one append at the stream's version. Each step's events keep
// the IDs they would have alone (derived from its trigger and the version
// they follow), so a runner that took the same step alone, or in another
// group, at the same place wrote the same events.
//
// A group is decided on the cached state without reading the stream
// first: what it appends is checked against the stream's version, so a
// cache behind the stream (receipts, another replica's steps) costs a
// conflict, a read of what it missed and a second decision, never a wrong
// append. A step that decides nothing on a cache behind the stream relies
// on the order's hold, which only the order's own flow changes, and every
// change of that flow moves the order's stream too, where the saga's next
// append is checked.
func (s *Saga) stockStep(ctx context.Context, sku string, cmd domain.Command, c cause) (domain.StockHold, error) {
	return s.queueStockStep(ctx, sku, cmd, c).wait()
}

// queueStockStep queues the step of stockStep and returns it, to wait for.
func (s *Saga) queueStockStep(ctx context.Context, sku string, cmd domain.Command, c cause) *stockReq {
	st := s.stock.get(sku)
	r := &stockReq{ctx: ctx, cmd: cmd, c: c, done: make(chan struct{})}
	st.mu.Lock()
	st.queue = append(st.queue, r)
	start := !st.running
	st.running = true
	st.mu.Unlock()
	if start {
		go s.drain(sku, st)
	}
	return r
}

// wait waits for the step to be taken, or for its context to end.
func (r *stockReq) wait() (domain.StockHold, error) {
	select {
	case <-r.done:
		return r.hold, r.err
	case <-r.ctx.Done():
		// The group may still append the step: like any step whose answer
		// was lost, it is decided again, and found done, on the next try.
		return domain.StockHold{}, r.ctx.Err()
	}
}

// drain takes groups of steps from st's queue until it is empty.
func (s *Saga) drain(sku string, st *skuState) {
	for {
		st.mu.Lock()
		n := min(len(st.queue), maxGroup)
		if n == 0 {
			st.running = false
			st.mu.Unlock()
			return
		}
		group := slices.Clone(st.queue[:n])
		st.queue = slices.Delete(st.queue, 0, n)
		st.mu.Unlock()
		s.stepGroup(sku, st, group)
		for _, r := range group {
			close(r.done)
		}
	}
}

// groupContext returns a context that ends when the contexts of every step
// of group have ended: the group's reads and append are for all of them.
func groupContext(group []*stockReq) (context.Context, func()) {
	if one := group[0].ctx; !slices.ContainsFunc(group[1:], func(r *stockReq) bool { return r.ctx != one }) {
		// The steps of one runner share its context.
		return one, func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	left := int64(len(group))
	var mu sync.Mutex
	stops := make([]func() bool, len(group))
	for i, r := range group {
		stops[i] = context.AfterFunc(r.ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if left--; left == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// stepGroup decides the steps of group on st and appends their events
// together, setting each step's hold or error.
func (s *Saga) stepGroup(sku string, st *skuState, group []*stockReq) {
	ctx, done := groupContext(group)
	defer done()
	stream := domain.StockStream(sku)
	fail := func(err error) {
		for _, r := range group {
			if r.err == nil {
				r.err = err
			}
		}
	}
	var lastErr error
	for range maxAttempts {
		if !st.loaded || lastErr != nil {
			if err := st.catchUp(ctx, s.store, stream); err != nil {
				fail(err)
				return
			}
			st.loaded = true
		}
		undo := st.checkpoint(group)
		var data []eventstore.EventData
		var decided []*stockReq
		now := s.now()
		for _, r := range group {
			r.err = nil
			orderID := stepOrder(r.cmd)
			events, err := domain.DecideReservation(&st.stock, r.cmd, now)
			if err != nil {
				r.err = fmt.Errorf("%s: %s for order %s: %w", stream, r.cmd.CommandName(), orderID, err)
				continue
			}
			if len(events) == 0 {
				continue
			}
			encoded, err := r.c.encode(r.cmd.CommandName(), stream, st.version+int64(len(data)), events)
			if err != nil {
				r.err = err
				continue
			}
			data = append(data, encoded...)
			decided = append(decided, r)
			for _, e := range events {
				st.stock.Apply(e)
			}
		}
		if len(data) == 0 {
			lastErr = nil
			break
		}
		res, err := s.store.Append(ctx, stream, expected(st.version), data...)
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) || errors.Is(err, eventstore.ErrDuplicateEventID) {
			// Another writer (a replica) moved the stream; a duplicate ID
			// is a group of its that took some of these steps at this
			// version, but not all.
			undo()
			lastErr = err
			continue
		}
		if err != nil {
			undo()
			fail(fmt.Errorf("append to %s: %w", stream, err))
			return
		}
		st.version = res.Version
		if s.logger.Enabled(ctx, slog.LevelDebug) { // the arguments cost even when discarded
			for _, r := range decided {
				s.logger.Debug("stock step", logOrder, stepOrder(r.cmd), logSKU, sku, logStep, r.cmd.CommandName(), logTrigger, r.c.trigger)
			}
		}
		lastErr = nil
		break
	}
	if lastErr != nil {
		fail(fmt.Errorf("%s: %w: %w", stream, ErrConflict, lastErr))
		return
	}
	for _, r := range group {
		if r.err == nil {
			r.hold = st.stock.Holds[stepOrder(r.cmd)]
		}
	}
}

// checkpoint returns a function that puts st's stock back as it is now,
// for the steps of group (the only holds they change).
func (st *skuState) checkpoint(group []*stockReq) func() {
	received, reserved, shipped := st.stock.Received, st.stock.Reserved, st.stock.Shipped
	type saved struct {
		hold domain.StockHold
		ok   bool
	}
	holds := make(map[string]saved, len(group))
	for _, r := range group {
		id := stepOrder(r.cmd)
		if _, done := holds[id]; !done {
			h, ok := st.stock.Holds[id]
			holds[id] = saved{h, ok}
		}
	}
	return func() {
		st.stock.Received, st.stock.Reserved, st.stock.Shipped = received, reserved, shipped
		for id, h := range holds {
			if h.ok {
				st.stock.Holds[id] = h.hold
			} else {
				delete(st.stock.Holds, id)
			}
		}
	}
}

func stepOrder(cmd domain.Command) string {
	switch c := cmd.(type) {
	case domain.ReserveStock:
		return c.OrderID
	case domain.ReleaseStock:
		return c.OrderID
	case domain.ShipStock:
		return c.OrderID
	}
	return ""
}
