package fulfilment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/internal/plainjson"
)

// idNamespace roots the IDs of the events the saga writes.
var idNamespace = uuid.MustParse("b0c7f3a4-5e21-4d8a-9f6b-1a2e3c4d5e6f")

// stepID derives the ID of the i-th event of a step: the same trigger,
// step, stream and expected version give the same IDs, so two runners
// deciding the same step at the same place write the same events.
func stepID(trigger uuid.UUID, step, stream string, version int64, i int) uuid.UUID {
	b := make([]byte, 0, 36+len(step)+len(stream)+32)
	b = append(b, trigger.String()...)
	b = append(append(append(b, 0), step...), 0)
	b = append(append(b, stream...), 0)
	b = append(strconv.AppendInt(b, version, 10), 0)
	return uuid.NewSHA1(idNamespace, strconv.AppendInt(b, int64(i), 10))
}

// metadata is recorded with every event the saga writes.
type metadata struct {
	domain.Metadata
	Actor string `json:"actor"`
}

// encode returns m as encoding/json writes it: directly when its values
// are plain (see plainjson), through encoding/json otherwise.
func (m metadata) encode() ([]byte, error) {
	if b, ok := m.appendJSON(make([]byte, 0, 160)); ok {
		return b, nil
	}
	return json.Marshal(m)
}

// appendJSON appends m as encoding/json writes it, or reports false for a
// value outside plainjson's shape.
func (m metadata) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	m.Metadata.WriteJSON(&w)
	w.Key("actor", false)
	w.Str(m.Actor)
	return w.End()
}

// order is an order's stream as the saga loads it.
type order struct {
	domain.Order
	version     int64
	correlation string
	// skus are the SKUs the order ever had a line for, in the order they
	// first appeared.
	skus []string
	// reservedEvent is the ID of the order's first OrderStockReserved:
	// the cause of its payment deadline.
	reservedEvent uuid.UUID
}

// remember keeps the order's state as it was before an append of the
// saga's own, for the reaction to that very event (see recall).
func (s *Saga) remember(o order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.written[o.ID] = o
}

// forget drops what the saga remembered of order id, if anything: a
// reaction that reads the order needs none, and an order whose reaction to
// its OrderStockReserved went that way would keep it for good.
func (s *Saga) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.written, id)
}

// recall returns, and forgets, the order's state as of trigger, from the
// state the saga remembered as of the version before it: the saga reacting
// to an event it wrote itself knows the order without reading its stream.
// The trigger is applied as recorded, which may be an earlier runner's
// event with the same ID (a replay, or a second runner), not as the saga
// decided it.
func (s *Saga) recall(id string, trigger eventstore.RecordedEvent) (order, bool) {
	s.mu.Lock()
	o, ok := s.written[id]
	delete(s.written, id)
	s.mu.Unlock()
	if !ok || o.version+1 != trigger.Version {
		return order{}, false
	}
	if err := o.apply(trigger); err != nil {
		return order{}, false // read from the stream, which reports it
	}
	return o, true
}

// loadOrder reads and folds order id's stream; an order without events
// is the zero order.
func (s *Saga) loadOrder(ctx context.Context, id string) (order, error) {
	stream := domain.OrderStream(id)
	recorded, err := s.store.ReadStream(ctx, stream, 0, 0)
	if errors.Is(err, eventstore.ErrNotFound) {
		return order{version: eventstore.NoVersion}, nil
	}
	if err != nil {
		return order{}, fmt.Errorf("load %s: %w", stream, err)
	}
	return foldOrder(stream, recorded)
}

// foldOrder folds the events of an order's stream, from its first.
func foldOrder(stream string, recorded []eventstore.RecordedEvent) (order, error) {
	o := order{version: eventstore.NoVersion}
	for _, r := range recorded {
		if err := o.apply(r); err != nil {
			return order{}, fmt.Errorf("load %s: %w", stream, err)
		}
	}
	return o, nil
}

// apply folds the order's next recorded event into o.
func (o *order) apply(r eventstore.RecordedEvent) error {
	e, err := domain.Decode(r.Type, r.Data)
	if err != nil {
		return fmt.Errorf("event %d: %w", r.Version, err)
	}
	if r.Version == 0 {
		if m, err := domain.DecodeMetadata(r.Metadata); err == nil {
			o.correlation = m.CorrelationID
		}
	}
	switch e := e.(type) {
	case domain.OrderPlaced:
		for _, l := range e.Lines {
			o.addSKU(l.SKU)
		}
	case domain.OrderLineAdded:
		o.addSKU(e.SKU)
	case domain.OrderStockReserved:
		if o.reservedEvent == uuid.Nil {
			o.reservedEvent = r.ID
		}
	}
	o.Order = domain.Evolve(o.Order, e)
	o.version = r.Version
	return nil
}

func (o *order) addSKU(sku string) {
	if !slices.Contains(o.skus, sku) {
		o.skus = append(o.skus, sku)
	}
}

func (o *order) quantity(sku string) int64 {
	for _, l := range o.Lines {
		if l.SKU == sku {
			return l.Quantity
		}
	}
	return 0
}

// Reconcile brings order id's stock in line with the order's state, as a
// reaction to trigger (an event of the order's stream): see the package
// documentation. It does nothing for an order placed under the track
// policy. A concurrent change of the order or a stock stream starts it
// over, at most maxAttempts times.
func (s *Saga) Reconcile(ctx context.Context, id string, trigger eventstore.RecordedEvent) error {
	if trigger.Type == domain.TypeOrderPlaced && trigger.Version == 0 {
		done, err := s.reconcilePlaced(ctx, id, trigger)
		if done || (err != nil && !errors.Is(err, eventstore.ErrWrongExpectedVersion)) {
			return err
		}
	}
	var lastErr error
	for range maxAttempts {
		o, err := s.loadOrder(ctx, id)
		if err != nil {
			return err
		}
		if !o.ReserveStock {
			return nil
		}
		s.track(o)
		err = s.reconcile(ctx, o, trigger)
		if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			return err
		}
		lastErr = err
	}
	return fmt.Errorf("order %s: %w: %w", id, ErrConflict, lastErr)
}

// reconcilePlaced reacts to an order's placement without reading its
// stream when the store knows, in process, that the placement is still the
// stream's only event (eventstore.StreamVersioner): the order as placed is
// then the order as it is, as a read would show it, and the trigger is all
// there is to fold. Otherwise, or if the order moves on before the saga's
// step (its append at version 0 is then refused), done is false and the
// caller reconciles the order as loaded.
func (s *Saga) reconcilePlaced(ctx context.Context, id string, trigger eventstore.RecordedEvent) (done bool, _ error) {
	sv, ok := s.store.(eventstore.StreamVersioner)
	if !ok {
		return false, nil
	}
	stream := domain.OrderStream(id)
	if v, known := sv.StreamVersion(stream); !known || v != 0 {
		return false, nil
	}
	o, err := foldOrder(stream, []eventstore.RecordedEvent{trigger})
	if err != nil {
		return false, err
	}
	if !o.ReserveStock {
		return true, nil
	}
	s.track(o)
	err = s.reconcile(ctx, o, trigger)
	if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		return false, nil
	}
	return err == nil, err
}

// track keeps the order's payment deadline, if it has one.
func (s *Saga) track(o order) {
	d := o.PaymentDeadline(s.timeout)
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.IsZero() {
		delete(s.deadlines, o.ID)
		return
	}
	if _, known := s.deadlines[o.ID]; !known {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	s.deadlines[o.ID] = d
}

// reconcile is one pass of Reconcile on the order as loaded. A version
// error (of the order's stream, or a stock stream's through every attempt)
// means that the order is to be loaded again.
func (s *Saga) reconcile(ctx context.Context, o order, trigger eventstore.RecordedEvent) error {
	c := cause{trigger: trigger.ID, correlation: o.correlation}
	switch o.Status {
	case domain.StatusPlaced, domain.StatusPaid:
		holds, err := s.eachSKU(ctx, o, c, func(sku string) domain.Command {
			if q := o.quantity(sku); q > 0 {
				return domain.ReserveStock{OrderID: o.ID, Quantity: q}
			}
			return domain.ReleaseStock{OrderID: o.ID, Reason: domain.ReleaseLineRemoved}
		})
		if err != nil {
			return err
		}
		var short []domain.Shortage
		for i, sku := range o.skus {
			if h := holds[i]; h.Refused {
				short = append(short, domain.Shortage{SKU: sku, Requested: h.Requested, Available: h.Available})
			}
		}
		if len(short) > 0 {
			// Compensate: give back what the order holds, then reject it.
			if err := s.releaseAll(ctx, o, domain.ReleaseRejected, c); err != nil {
				return err
			}
			written, err := s.orderStep(ctx, o, domain.Reject{Reason: domain.RejectOutOfStock, Short: short}, c)
			if written {
				s.metrics.compensations.Inc()
			}
			return err
		}
		if o.StockReservation == domain.ReservationPending {
			_, err := s.orderStep(ctx, o, domain.RecordStockReserved{}, c)
			return err
		}
		return nil
	case domain.StatusCancelled:
		reason := domain.ReleaseCancelled
		if o.CancelReason == domain.CancelPaymentTimeout {
			reason = domain.ReleasePaymentTimeout
		}
		return s.releaseAll(ctx, o, reason, c)
	case domain.StatusRejected:
		return s.releaseAll(ctx, o, domain.ReleaseRejected, c)
	case domain.StatusShipped:
		_, err := s.eachSKU(ctx, o, c, func(sku string) domain.Command {
			if o.quantity(sku) > 0 {
				return domain.ShipStock{OrderID: o.ID}
			}
			return domain.ReleaseStock{OrderID: o.ID, Reason: domain.ReleaseLineRemoved}
		})
		return err
	}
	return nil
}

func (s *Saga) releaseAll(ctx context.Context, o order, reason string, c cause) error {
	_, err := s.eachSKU(ctx, o, c, func(string) domain.Command {
		return domain.ReleaseStock{OrderID: o.ID, Reason: reason}
	})
	return err
}

// eachSKU carries out the stock step cmd(sku) on every SKU of the order,
// at once (they are independent streams), and returns the holds after, in
// the order of o.skus, or the first error.
func (s *Saga) eachSKU(ctx context.Context, o order, c cause, cmd func(sku string) domain.Command) ([]domain.StockHold, error) {
	holds := make([]domain.StockHold, len(o.skus))
	if len(o.skus) == 1 {
		h, err := s.stockStep(ctx, o.skus[0], cmd(o.skus[0]), c)
		holds[0] = h
		return holds, err
	}
	// Queued all at once, so that independent streams are taken at once.
	reqs := make([]*stockReq, len(o.skus))
	for i, sku := range o.skus {
		reqs[i] = s.queueStockStep(ctx, sku, cmd(sku), c)
	}
	errs := make([]error, len(o.skus))
	for i, r := range reqs {
		holds[i], errs[i] = r.wait()
	}
	// A version error first, so that the caller loads the order again.
	for _, err := range errs {
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			return nil, err
		}
	}
	return holds, errors.Join(errs...)
}

// cause is what the events of one reaction share.
type cause struct {
	trigger     uuid.UUID
	correlation string
}

// encode returns events as the saga appends them to stream after version.
func (c cause) encode(step, stream string, version int64, events []domain.Event) ([]eventstore.EventData, error) {
	meta, err := metadata{
		Metadata: domain.Metadata{CorrelationID: c.correlation, CausationID: c.trigger.String(), Schema: domain.SchemaVersion},
		Actor:    Actor,
	}.encode()
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		typ, payload, err := domain.Encode(e)
		if err != nil {
			return nil, err
		}
		data[i] = eventstore.EventData{ID: stepID(c.trigger, step, stream, version, i), Type: typ, Data: payload, Metadata: meta}
	}
	return data, nil
}

func expected(version int64) eventstore.ExpectedVersion {
	if version == eventstore.NoVersion {
		return eventstore.NoStream
	}
	return eventstore.Exact(version)
}

// orderStep decides cmd on the order as loaded and appends the events at
// its version. A command the order's state no longer allows (another
// runner did it, or the order moved on) writes nothing. written tells
// whether events were appended.
func (s *Saga) orderStep(ctx context.Context, o order, cmd domain.Command, c cause) (written bool, _ error) {
	events, err := domain.Decide(o.Order, cmd, s.now())
	if errors.Is(err, domain.ErrNotAllowed) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("order %s: %s: %w", o.ID, cmd.CommandName(), err)
	}
	stream := domain.OrderStream(o.ID)
	data, err := c.encode(cmd.CommandName(), stream, o.version, events)
	if err != nil {
		return false, err
	}
	res, err := s.store.Append(ctx, stream, expected(o.version), data...)
	if err != nil {
		return false, fmt.Errorf("append to %s: %w", stream, err)
	}
	if _, ok := cmd.(domain.RecordStockReserved); ok && res.Version == o.version+1 {
		s.remember(o) // recalled by the reaction to OrderStockReserved
	}
	if s.logger.Enabled(ctx, slog.LevelDebug) {
		s.logger.Debug("order step", logOrder, o.ID, logStep, cmd.CommandName(), logTrigger, c.trigger)
	}
	return true, nil
}
