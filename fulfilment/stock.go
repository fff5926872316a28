package fulfilment

import (
	"context"
	"errors"
	"fmt"
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

// skuState is one SKU's cached stock; mu serialises the saga's steps on
// the SKU within this process, so that they queue rather than conflict.
type skuState struct {
	mu      sync.Mutex
	stock   domain.Stock
	version int64 // of the last event applied; NoVersion before any
	loaded  bool  // read from the stream at least once
}

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
// The step is decided on the cached state without reading the stream
// first: what it appends is checked against the stream's version, so a
// cache behind the stream (receipts, another replica's steps) costs a
// conflict, a read of what it missed and a second decision, never a wrong
// append. A step that decides nothing on a cache behind the stream relies
// on the order's hold, which only the order's own flow changes, and every
// change of that flow moves the order's stream too, where the saga's next
// append is checked.
func (s *Saga) stockStep(ctx context.Context, sku string, cmd domain.Command, c cause) (domain.StockHold, error) {
	orderID := stepOrder(cmd)
	stream := domain.StockStream(sku)
	st := s.stock.get(sku)
	st.mu.Lock()
	defer st.mu.Unlock()
	var lastErr error
	for range maxAttempts {
		if !st.loaded || lastErr != nil {
			if err := st.catchUp(ctx, s.store, stream); err != nil {
				return domain.StockHold{}, err
			}
			st.loaded = true
		}
		events, err := domain.DecideReservation(&st.stock, cmd, s.now())
		if err != nil {
			return domain.StockHold{}, fmt.Errorf("%s: %s for order %s: %w", stream, cmd.CommandName(), orderID, err)
		}
		if len(events) == 0 {
			return st.stock.Holds[orderID], nil
		}
		data, err := c.encode(cmd.CommandName(), stream, st.version, events)
		if err != nil {
			return domain.StockHold{}, err
		}
		res, err := s.store.Append(ctx, stream, expected(st.version), data...)
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			lastErr = err
			continue // another writer (a replica) moved the stream
		}
		if err != nil {
			return domain.StockHold{}, fmt.Errorf("append to %s: %w", stream, err)
		}
		for _, e := range events {
			st.stock.Apply(e)
		}
		st.version = res.Version
		s.logger.Debug("stock step", logOrder, orderID, logSKU, sku, logStep, cmd.CommandName(), logTrigger, c.trigger)
		return st.stock.Holds[orderID], nil
	}
	return domain.StockHold{}, fmt.Errorf("%s: %w: %w", stream, ErrConflict, lastErr)
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
