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
	recorded, _, err := s.load(ctx, stream)
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
	var order domain.Order
	for _, r := range recorded {
		e, err := domain.Decode(r.Type, r.Data)
		if err != nil {
			return domain.Order{}, 0, fmt.Errorf("load %s: event %d: %w", stream, r.Version, err)
		}
		order = domain.Evolve(order, e)
	}
	if !order.Exists() {
		return domain.Order{}, 0, fmt.Errorf("order %s: %w", orderID, domain.ErrOrderNotFound)
	}
	return order, recorded[len(recorded)-1].Version, nil
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
}

// ReceiveStock records a stock receipt for a SKU.
func (s *Service) ReceiveStock(ctx context.Context, cmd domain.ReceiveStock, req Request) (StockResult, error) {
	if err := domain.ValidID(cmd.SKU); err != nil {
		var ve *domain.ValidationError
		if errors.As(err, &ve) {
			ve.Field = "sku"
		}
		return StockResult{}, err
	}
	stream := domain.StockStream(cmd.SKU)
	events, err := domain.DecideStock(cmd, s.now())
	if err != nil {
		return StockResult{}, err
	}
	// Receipts commute, so they append with Any and never read the stream
	// (which grows with every receipt). With a key, the derived event IDs
	// let the store recognise a retry anywhere in the stream, and the read
	// back tells a replay (and a reused key) apart.
	res, requestID, err := s.append(ctx, stream, eventstore.Any, events, req)
	if err != nil {
		return StockResult{}, err
	}
	out := StockResult{Version: res.Version, Position: res.Position}
	if req.IdempotencyKey != "" {
		if out.Replayed, err = s.confirm(ctx, stream, res, req, requestID); err != nil {
			return StockResult{}, err
		}
	}
	return out, nil
}
