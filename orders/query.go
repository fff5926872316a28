package orders

import (
	"context"
	"errors"
	"fmt"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
)

// Load returns the order's state and version; with atVersion ≥ 0, the state
// as of that version. It returns domain.ErrOrderNotFound for an unknown
// order and ErrVersionNotFound for a version it never had.
func (s *Service) Load(ctx context.Context, orderID string, atVersion int64) (domain.Order, int64, error) {
	if err := domain.ValidID(orderID); err != nil {
		return domain.Order{}, 0, err
	}
	stream := domain.OrderStream(orderID)
	recorded, err := s.read(ctx, stream)
	if err != nil {
		return domain.Order{}, 0, err
	}
	if len(recorded) == 0 {
		return domain.Order{}, 0, fmt.Errorf("order %s: %w", orderID, domain.ErrOrderNotFound)
	}
	if atVersion >= 0 {
		if atVersion >= int64(len(recorded)) {
			return domain.Order{}, 0, fmt.Errorf("order %s version %d (latest %d): %w",
				orderID, atVersion, len(recorded)-1, ErrVersionNotFound)
		}
		recorded = recorded[:atVersion+1]
	}
	order, err := fold(recorded)
	if err != nil {
		return domain.Order{}, 0, fmt.Errorf("load %s: %w", stream, err)
	}
	if !order.Exists() {
		return domain.Order{}, 0, fmt.Errorf("order %s: %w", orderID, domain.ErrOrderNotFound)
	}
	return order, lastVersion(recorded), nil
}

// Events returns the order's recorded events.
func (s *Service) Events(ctx context.Context, orderID string) ([]eventstore.RecordedEvent, error) {
	if err := domain.ValidID(orderID); err != nil {
		return nil, err
	}
	recorded, err := s.store.ReadStream(ctx, domain.OrderStream(orderID), 0, 0)
	if errors.Is(err, eventstore.ErrNotFound) {
		return nil, fmt.Errorf("order %s: %w", orderID, domain.ErrOrderNotFound)
	}
	return recorded, err
}

// StockResult is the outcome of a stock receipt.
type StockResult struct {
	Version  int64
	Position uint64
	Replayed bool
	// RequestID is the causation of the receipt's event: the request's
	// own ID, or on a replay the ID of the request that wrote it.
	RequestID string
}

// ReceiveStock records a stock receipt for a SKU.
//
// Receipts commute, so one without an idempotency key appends with Any and
// never reads the SKU's stream, which grows with every receipt. One with a
// key must be recorded exactly once, and a store recognises a retry of an
// Any append only as far as it remembers it (KurrentDB: from a bounded
// cache of recent writes). So a keyed receipt is written as a command on an
// order is: read the stream, answer the recorded outcome if the key's
// events are in it, else append with the version read. A receipt with the
// key recorded in between moves the stream past that version; the append
// fails, and the next attempt finds it.
func (s *Service) ReceiveStock(ctx context.Context, cmd domain.ReceiveStock, req Request) (StockResult, error) {
	if err := domain.ValidID(cmd.SKU); err != nil {
		var ve *domain.ValidationError
		if errors.As(err, &ve) {
			ve.Field = "sku"
		}
		return StockResult{}, err
	}
	stream := domain.StockStream(cmd.SKU)
	req = withRequestID(req)
	ctx, done := s.expect(ctx)
	defer done()
	events, err := domain.DecideStock(cmd, s.now())
	if err != nil {
		return StockResult{}, err
	}
	if req.IdempotencyKey == "" {
		res, _, err := s.append(ctx, stream, eventstore.Any, events, req)
		if err != nil {
			return StockResult{}, err
		}
		return StockResult{Version: res.Version, Position: res.Position, RequestID: req.RequestID}, nil
	}
	return retry(ctx, s, stream, func(int) (StockResult, error) {
		recorded, err := s.read(ctx, stream)
		if err != nil {
			return StockResult{}, err
		}
		if done, err := findKeyed(recorded, stream, req); done != nil || err != nil {
			return replayStock(done, err)
		}
		res, done, err := s.appendAfter(ctx, stream, lastVersion(recorded), events, req)
		if err != nil || done != nil {
			return replayStock(done, err)
		}
		return StockResult{Version: res.Version, Position: res.Position, RequestID: req.RequestID}, nil
	})
}

// replayStock answers the outcome of an earlier receipt that findKeyed or
// appendAfter found (done: the stock stream up to its event), or err.
func replayStock(done []eventstore.RecordedEvent, err error) (StockResult, error) {
	if err != nil {
		return StockResult{}, err
	}
	last := done[len(done)-1]
	return StockResult{Version: last.Version, Position: last.Position, Replayed: true, RequestID: causationOf(last)}, nil
}
