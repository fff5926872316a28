package fulfilment_test

// The saga's reaction to a placement without reading the order (see
// reconcilePlaced) must act exactly as a reaction to the order as read:
// each test below is a history where the order as placed is not the order
// as it is, and failed on a first version that reacted to the placement
// alone whenever it was the trigger.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/fulfilment"
)

// A line removed before the saga first reacts; its SKU is out of stock.
// Reserving the order as it is succeeds .
func TestSaga_PlacedRemovedLineOutOfStock(t *testing.T) {
	e := newEnv(t, openStore)
	e.receive("A", 5) // B: none at all
	e.place("o-1", line("A", 1), line("B", 1))
	if err := e.exec("o-1", domain.RemoveLine{SKU: "B"}); err != nil {
		t.Fatal(err)
	}
	s := e.saga("saga", 0)
	e.run(s)
	e.settle(s)
	o := e.order("o-1")
	if o.Status != domain.StatusPlaced || o.StockReservation != domain.ReservationReserved {
		t.Errorf("order with lines %v: %s, reservation %q, short %v; want placed, reserved", o.Lines, o.Status, o.StockReservation, o.Short)
	}
}

// blockAt holds the first append to one stream at version 0 until released.
// It passes on the store's StreamVersion, so the saga sees what it would
// see of the store itself.
type blockAt struct {
	eventstore.Store
	stream           string
	once             sync.Once
	reached, release chan struct{}
}

func (b *blockAt) StreamVersion(stream string) (int64, bool) {
	return b.Store.(eventstore.StreamVersioner).StreamVersion(stream) //nolint:forcetypeassert // the embedded store
}

func (b *blockAt) Append(ctx context.Context, stream string, exp eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if stream == b.stream && exp == eventstore.Exact(0) {
		b.once.Do(func() { close(b.reached); <-b.release })
	}
	return b.Store.Append(ctx, stream, exp, events...)
}

// An order cancelled before the saga reacts takes stock from another order
// while the saga reacts to it: the other order is refused and rejected.
func TestSaga_PlacedCancelledOrderTakesLastUnit(t *testing.T) {
	e := newEnv(t, openStore)
	e.receive("A", 1)
	e.place("x", line("A", 1))
	if err := e.exec("x", domain.Cancel{Reason: "customer"}); err != nil {
		t.Fatal(err)
	}
	e.place("y", line("A", 1))
	b := &blockAt{Store: e.store, stream: domain.OrderStream("x"), reached: make(chan struct{}), release: make(chan struct{})}
	s := fulfilment.New(b, fulfilment.Options{Now: e.clock.Now})
	placed := func(id string) eventstore.RecordedEvent { return e.events(domain.OrderStream(id))[0].RecordedEvent }
	done := make(chan error, 1)
	go func() { done <- s.Reconcile(t.Context(), "x", placed("x")) }()
	var xErr error
	xDone := false
	select {
	case <-b.reached: // x's reservation made, its order step held
	case xErr = <-done: // no order step at version 0 for x
		xDone = true
	case <-time.After(10 * time.Second):
		t.Fatal("timeout")
	}
	if err := s.Reconcile(t.Context(), "y", placed("y")); err != nil {
		t.Fatal(err)
	}
	close(b.release)
	if !xDone {
		xErr = <-done
	}
	if xErr != nil {
		t.Fatal(xErr)
	}
	if o := e.order("y"); o.Status != domain.StatusPlaced || o.StockReservation != domain.ReservationReserved {
		t.Errorf("y %s (%q, short %v); want placed, reserved: the only other order was cancelled before any reaction", o.Status, o.StockReservation, o.Short)
	}
}

func compensations(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "orderstore_fulfilment_compensations_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no compensations metric")
	return 0
}

// A replay (a restarted runner without its checkpoint, or a second one far
// behind) of an order rejected long ago counts no compensation.
func TestSaga_PlacedReplayCountsCompensation(t *testing.T) {
	e := newEnv(t, openStore)
	reg1 := prometheus.NewRegistry()
	first := fulfilment.New(e.store, fulfilment.Options{Now: e.clock.Now, Registerer: reg1})
	e.run(first)
	e.receive("A", 1)
	e.place("o-1", line("A", 3))
	e.settle(first)
	if o := e.order("o-1"); o.Status != domain.StatusRejected {
		t.Fatalf("o-1 %s", o.Status)
	}
	t.Logf("first runner: %v compensations", compensations(t, reg1))
	reg2 := prometheus.NewRegistry()
	replay := fulfilment.New(e.store, fulfilment.Options{Now: e.clock.Now, Registerer: reg2})
	e.run(replay)
	e.settle(replay)
	if n := compensations(t, reg2); n != 0 {
		t.Errorf("the replay counted %v compensations for an order rejected before it ran", n)
	}
}

// History whose first reaction to a placement went through the load path
// (a binary from before that path, or any reaction not to the placement
// itself):
// a line removed before that reaction has no hold. A replay from no
// checkpoint, once that SKU is sold out, must leave the paid order alone.
func TestSaga_PlacedReplayOverLoadPathHistory(t *testing.T) {
	e := newEnv(t, openStore)
	e.receive("A", 5)
	e.receive("B", 1)
	e.place("x", line("A", 1), line("B", 1))
	if err := e.exec("x", domain.RemoveLine{SKU: "B"}); err != nil {
		t.Fatal(err)
	}
	old := fulfilment.New(e.store, fulfilment.Options{Now: e.clock.Now})
	evs := e.events(domain.OrderStream("x"))
	// As the previous binary reacted: load the order, reconcile it as it is.
	if err := old.Reconcile(t.Context(), "x", evs[1].RecordedEvent); err != nil {
		t.Fatal(err)
	}
	if err := e.exec("x", domain.Pay{Amount: 100, PaymentRef: "p"}); err != nil {
		t.Fatal(err)
	}
	e.place("y", line("B", 1)) // takes the last B
	if err := old.Reconcile(t.Context(), "y", e.events(domain.OrderStream("y"))[0].RecordedEvent); err != nil {
		t.Fatal(err)
	}
	if o := e.order("x"); o.Status != domain.StatusPaid || o.StockReservation != domain.ReservationReserved {
		t.Fatalf("x before the replay: %s %q", o.Status, o.StockReservation)
	}
	before := len(e.all())
	replay := e.saga("replay", 0)
	e.run(replay)
	e.settle(replay)
	if o := e.order("x"); o.Status != domain.StatusPaid {
		t.Errorf("paid order x after a replay: %s (%s, short %v, refunded %d)", o.Status, o.RejectReason, o.Short, o.RefundedAmount)
	}
	for _, ev := range e.all()[before:] {
		t.Logf("the replay wrote %s to %s", ev.Type, ev.Stream)
	}
}

// countReads counts the reads of order streams, passing on the store's
// StreamVersion.
type countReads struct {
	eventstore.Store
	mu    sync.Mutex
	reads map[string]int
}

func (c *countReads) StreamVersion(stream string) (int64, bool) {
	return c.Store.(eventstore.StreamVersioner).StreamVersion(stream) //nolint:forcetypeassert // the embedded store
}

func (c *countReads) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	c.mu.Lock()
	c.reads[stream]++
	c.mu.Unlock()
	return c.Store.ReadStream(ctx, stream, from, limit)
}

// A placement the store knows to be its order's only event is reserved
// without reading the order's stream, and so is the reaction to the
// saga's own OrderStockReserved; an order that moved on before the saga
// reacted is read.
func TestSaga_PlacedWithoutRead(t *testing.T) {
	e := newEnv(t, openStore)
	c := &countReads{Store: e.store, reads: map[string]int{}}
	e.receive("A", 5)
	e.place("moved", line("A", 1))
	if err := e.exec("moved", domain.AddLine{SKU: "A", Quantity: 1, UnitPrice: 100}); err != nil {
		t.Fatal(err)
	}
	s := fulfilment.New(c, fulfilment.Options{Now: e.clock.Now, PaymentTimeout: time.Hour})
	e.run(s)
	e.place("fresh", line("A", 2))
	e.settle(s)
	for _, id := range []string{"fresh", "moved"} {
		if o := e.order(id); o.StockReservation != domain.ReservationReserved {
			t.Errorf("order %s: reservation %q", id, o.StockReservation)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.reads[domain.OrderStream("fresh")]; n != 0 {
		t.Errorf("the saga read the stream of an order it knew as placed %d times", n)
	}
	if n := c.reads[domain.OrderStream("moved")]; n == 0 {
		t.Error("the saga did not read the stream of an order that had moved on")
	}
	if _, ok := s.Deadline("fresh"); !ok {
		t.Error("no payment deadline for the order reserved without a read")
	}
}
