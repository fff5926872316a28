package fulfilment_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/fulfilment"
	"github.com/orderstore/orderstore/orders"
)

func TestSaga_ReservesThenShips(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		s := e.saga("saga", 0)
		e.run(s)
		e.receive("A", 5)
		e.receive("B", 5)
		e.place("o-1", line("A", 2), line("B", 1))
		e.settle(s)

		o := e.order("o-1")
		if o.StockReservation != domain.ReservationReserved || o.Status != domain.StatusPlaced {
			t.Fatalf("order %s, reservation %q; want placed, reserved", o.Status, o.StockReservation)
		}
		if a, b := e.stock("A"), e.stock("B"); a.Reserved != 2 || a.Available() != 3 || b.Reserved != 1 {
			t.Errorf("stock A %+v, B %+v", a, b)
		}
		// The saga's events: caused by the placement, in the order's flow.
		placed := e.events(domain.OrderStream("o-1"))[0]
		for _, ev := range append(e.events(domain.StockStream("A"))[1:], e.events(domain.OrderStream("o-1"))[1:]...) {
			if ev.meta.CausationID != placed.ID.String() || ev.meta.CorrelationID != "corr-o-1" || ev.meta.Actor != fulfilment.Actor {
				t.Errorf("%s metadata %+v; want causation %s, correlation corr-o-1", ev.Type, ev.meta, placed.ID)
			}
		}

		if err := e.exec("o-1", domain.Pay{Amount: 300, PaymentRef: "p"}); err != nil {
			t.Fatal(err)
		}
		if err := e.exec("o-1", domain.Ship{Carrier: "UPS", Tracking: "1"}); err != nil {
			t.Fatal(err)
		}
		e.settle(s)
		if a := e.stock("A"); a.Reserved != 0 || a.Shipped != 2 || a.Available() != 3 {
			t.Errorf("stock A after shipping %+v", a)
		}
		e.checkInvariants([]string{"o-1"}, []string{"A", "B"})
	})
}

func TestSaga_OutOfStockRejectsAndReleases(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		s := e.saga("saga", 0)
		e.run(s)
		e.receive("A", 5)
		e.receive("B", 1)
		e.place("o-1", line("A", 2), line("B", 3))
		e.settle(s)

		o := e.order("o-1")
		want := []domain.Shortage{{SKU: "B", Requested: 3, Available: 1}}
		if o.Status != domain.StatusRejected || o.RejectReason != domain.RejectOutOfStock || !reflect.DeepEqual(o.Short, want) ||
			o.StockReservation != domain.ReservationReleased {
			t.Fatalf("order %+v; want rejected, out of stock, short %v", o, want)
		}
		// A was reserved before B was refused, and released.
		var types []string
		for _, ev := range e.events(domain.StockStream("A")) {
			types = append(types, ev.Type)
		}
		if wantTypes := []string{domain.TypeStockReceived, domain.TypeStockReserved, domain.TypeStockReleased}; !slices.Equal(types, wantTypes) {
			t.Errorf("stock-A events %v, want %v", types, wantTypes)
		}
		if a := e.stock("A"); a.Reserved != 0 || a.Available() != 5 {
			t.Errorf("stock A %+v", a)
		}
		if err := e.exec("o-1", domain.Pay{Amount: 800, PaymentRef: "p"}); !errors.Is(err, domain.ErrNotAllowed) {
			t.Errorf("paying a rejected order: %v, want ErrNotAllowed", err)
		}
		e.checkInvariants([]string{"o-1"}, []string{"A", "B"})
	})
}

func TestSaga_LinesCancelAndTrackOrders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, openStore)
	s := e.saga("saga", 0)
	e.run(s)
	e.receive("A", 10)
	e.receive("B", 10)
	e.place("o-1", line("A", 2), line("B", 1))
	e.settle(s)
	// A line added makes the reservation pending until the saga reserves
	// it; a removed line is released.
	if err := e.exec("o-1", domain.AddLine{SKU: "A", Quantity: 3, UnitPrice: 100}); err != nil {
		t.Fatal(err)
	}
	if err := e.exec("o-1", domain.RemoveLine{SKU: "B"}); err != nil {
		t.Fatal(err)
	}
	e.settle(s)
	if o := e.order("o-1"); o.StockReservation != domain.ReservationReserved {
		t.Errorf("reservation %q after the line changes", o.StockReservation)
	}
	if a, b := e.stock("A"), e.stock("B"); a.Reserved != 5 || b.Reserved != 0 {
		t.Errorf("stock A reserved %d, B %d; want 5, 0", a.Reserved, b.Reserved)
	}
	// A line added beyond the stock rejects the order.
	e.place("o-2", line("A", 1))
	e.settle(s)
	if err := e.exec("o-2", domain.AddLine{SKU: "B", Quantity: 11, UnitPrice: 100}); err != nil {
		t.Fatal(err)
	}
	e.settle(s)
	if o := e.order("o-2"); o.Status != domain.StatusRejected {
		t.Errorf("o-2 %s after an added line beyond the stock", o.Status)
	}
	// Cancellation releases.
	if err := e.exec("o-1", domain.Cancel{Reason: "changed my mind"}); err != nil {
		t.Fatal(err)
	}
	// An order placed under the track policy is not the saga's.
	track := orders.New(e.store, orders.Options{Now: e.clock.Now})
	if _, err := track.Place(t.Context(), domain.PlaceOrder{ID: "o-3", CustomerID: "c", Currency: "EUR",
		Lines: []domain.Line{line("A", 50)}}, orders.Request{CorrelationID: "c"}); err != nil {
		t.Fatal(err)
	}
	e.settle(s)
	if a := e.stock("A"); a.Reserved != 0 || a.Available() != 10 {
		t.Errorf("stock A %+v after cancelling", a)
	}
	if o := e.order("o-3"); o.Status != domain.StatusPlaced || o.StockReservation != domain.ReservationNone {
		t.Errorf("track order %s, reservation %q", o.Status, o.StockReservation)
	}
}

// Concurrent orders racing for the last units: exactly as many reserved as
// there are units, the others rejected, never oversold; with one runner,
// and with two racing each other too (replicas on one store).
func TestSaga_LastUnits(t *testing.T) {
	t.Parallel()
	for _, runners := range []int{1, 2} {
		t.Run(fmt.Sprint("runners=", runners), func(t *testing.T) {
			t.Parallel()
			lastUnits(t, runners)
		})
	}
}

func lastUnits(t *testing.T, runners int) {
	eachStore(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		var sagas []*fulfilment.Saga
		for i := range runners {
			s := e.saga(fmt.Sprint("saga-", i), 0)
			e.run(s)
			sagas = append(sagas, s)
		}
		const units, buyers = 7, 24
		e.receive("HOT", units)
		for i := range 3 {
			e.receive(fmt.Sprint("COLD-", i), 100)
		}
		var wg sync.WaitGroup
		ids := make([]string, buyers)
		for i := range buyers {
			ids[i] = fmt.Sprintf("o-%02d", i)
			wg.Go(func() { e.place(ids[i], line("HOT", 1), line(fmt.Sprint("COLD-", i%3), 1)) })
		}
		wg.Wait()
		e.settle(sagas...)
		reserved := 0
		for _, id := range ids {
			if e.order(id).StockReservation == domain.ReservationReserved {
				reserved++
			}
		}
		if reserved != units {
			t.Errorf("%d orders reserved, want %d", reserved, units)
		}
		e.checkInvariants(ids, []string{"HOT", "COLD-0", "COLD-1", "COLD-2"})
	})
}

// A payment racing the rejection: either the payment lands first and the
// rejection refunds it, or the rejection lands first and the payment is
// refused. Never both, never a refund twice.
func TestSaga_PaymentRacesRejection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, openStore)
	s := e.saga("saga", 0) // driven by hand: Reconcile races the payment
	e.receive("A", 1)
	const n = 12
	refunded, refused := 0, 0
	for i := range n {
		id := fmt.Sprintf("o-%d", i)
		e.place(id, line("A", 2))
		placed := e.events(domain.OrderStream(id))[0].RecordedEvent
		var wg sync.WaitGroup
		var payErr, sagaErr error
		wg.Go(func() { payErr = e.exec(id, domain.Pay{Amount: 200, PaymentRef: "p"}) })
		wg.Go(func() { sagaErr = s.Reconcile(t.Context(), id, placed) })
		wg.Wait()
		if sagaErr != nil {
			t.Fatal(sagaErr)
		}
		// Again, as a redelivery would: nothing more.
		if err := s.Reconcile(t.Context(), id, placed); err != nil {
			t.Fatal(err)
		}
		o := e.order(id)
		switch {
		case payErr == nil && o.Status == domain.StatusRejected && o.RefundedAmount == 200:
			refunded++
		case errors.Is(payErr, domain.ErrNotAllowed) && o.Status == domain.StatusRejected && o.RefundedAmount == 0:
			refused++
		default:
			t.Fatalf("order %s: payment %v, status %s, refunded %d", id, payErr, o.Status, o.RefundedAmount)
		}
	}
	t.Logf("%d payments refunded by the rejection, %d refused after it", refunded, refused)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("o-%d", i)
	}
	e.checkInvariants(ids, []string{"A"})
}

// A deadline racing a payment: the order stream's version decides; the
// deadline fires once, never before it is due, never after the payment.
func TestSaga_DeadlineRacesPayment(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		const timeout = 30 * time.Minute
		s := e.saga("saga", 0) // reserves and releases; fires no deadline itself
		e.run(s)
		e.receive("A", 100)
		const n = 10
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("o-%d", i)
			e.place(ids[i], line("A", 1))
		}
		e.place("paid-early", line("A", 1))
		e.place("never-paid", line("A", 1))
		e.settle(s)
		if err := e.exec("paid-early", domain.Pay{Amount: 100, PaymentRef: "p"}); err != nil {
			t.Fatal(err)
		}
		e.settle(s)
		// The saga that fires: not running, it learns the candidates from
		// a Deadlines source, as a restarted one does from the read model.
		fire := fulfilment.New(e.store, fulfilment.Options{Now: e.clock.Now, PaymentTimeout: timeout,
			Deadlines: candidates(append(ids, "paid-early", "never-paid"))})

		e.clock.Advance(timeout - time.Second)
		if n, err := fire.FireDeadlines(t.Context()); err != nil || n != 0 {
			t.Fatalf("FireDeadlines before the deadline = %d, %v", n, err)
		}
		e.clock.Advance(time.Second)
		var wg sync.WaitGroup
		payErrs := make([]error, n)
		for i, id := range ids {
			wg.Go(func() { payErrs[i] = e.exec(id, domain.Pay{Amount: 100, PaymentRef: "p"}) })
		}
		var fired int
		var fireErr error
		wg.Go(func() { fired, fireErr = fire.FireDeadlines(t.Context()) })
		wg.Wait()
		if fireErr != nil {
			t.Fatal(fireErr)
		}
		if again, err := fire.FireDeadlines(t.Context()); err != nil || again != 0 {
			t.Errorf("FireDeadlines again = %d, %v; want 0", again, err)
		}
		e.settle(s)
		cancelled := 0
		for i, id := range ids {
			o := e.order(id)
			switch {
			case payErrs[i] == nil && o.Status == domain.StatusPaid:
			case errors.Is(payErrs[i], domain.ErrNotAllowed) && o.Status == domain.StatusCancelled && o.CancelReason == domain.CancelPaymentTimeout:
				cancelled++
			default:
				t.Errorf("order %s: payment %v, status %s (%s)", id, payErrs[i], o.Status, o.CancelReason)
			}
		}
		if o := e.order("never-paid"); o.Status != domain.StatusCancelled || o.CancelReason != domain.CancelPaymentTimeout {
			t.Errorf("unpaid order %s (%s) after its deadline", o.Status, o.CancelReason)
		}
		if cancelled+1 != fired {
			t.Errorf("%d orders cancelled, FireDeadlines said %d", cancelled+1, fired)
		}
		if o := e.order("paid-early"); o.Status != domain.StatusPaid {
			t.Errorf("paid order %s", o.Status)
		}
		t.Logf("%d of %d deadlines won over the payment", fired-1, n)
		e.checkInvariants(append(ids, "paid-early", "never-paid"), []string{"A"})
	})
}

// candidates is a Deadlines source naming every order of a test: the
// saga decides on each order's own events whether its payment is due.
type candidates []string

func (c candidates) PaymentsDue(context.Context, time.Time, int) ([]string, error) { return c, nil }

// Two runners over one store end as one runner would: same order states,
// same stock, and no step taken twice.
func TestSaga_TwoRunnersEndAsOne(t *testing.T) {
	t.Parallel()
	workload := func(e *env, sagas ...*fulfilment.Saga) []string {
		e.receive("A", 20)
		e.receive("B", 3)
		var ids []string
		var wg sync.WaitGroup
		for i := range 16 {
			id := fmt.Sprintf("o-%02d", i)
			ids = append(ids, id)
			lines := []domain.Line{line("A", 1)}
			if i%4 == 0 {
				lines = append(lines, line("B", 5)) // never fits: rejected
			}
			wg.Go(func() {
				e.place(id, lines...)
				if i%3 == 0 {
					_ = e.exec(id, domain.Cancel{Reason: "x"}) //nolint:errcheck // may race the rejection
				}
			})
		}
		wg.Wait()
		e.settle(sagas...)
		return ids
	}
	summary := func(e *env, ids []string) []string {
		var out []string
		for _, id := range ids {
			o := e.order(id)
			out = append(out, fmt.Sprintf("%s %s %s", id, o.Status, o.StockReservation))
		}
		for _, sku := range []string{"A", "B"} {
			s := e.stock(sku)
			out = append(out, fmt.Sprintf("%s %d %d %d", sku, s.Received, s.Reserved, s.Shipped))
		}
		return out
	}
	one := newEnv(t, openStore)
	s1 := one.saga("one", 0)
	one.run(s1)
	ids := workload(one, s1)
	want := summary(one, ids)

	two := newEnv(t, openSparse)
	a, b := two.saga("a", 0), two.saga("b", 0)
	two.run(a)
	two.run(b)
	workload(two, a, b)
	if got := summary(two, ids); !slices.Equal(got, want) {
		t.Errorf("two runners:\n%v\none runner:\n%v", got, want)
	}
	two.checkInvariants(ids, []string{"A", "B"})
}

// A saga stopped at any point and started again (from its checkpoint, or
// from none) finishes the flows and writes nothing twice.
func TestSaga_RestartMidFlow(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		r := rand.New(rand.NewPCG(7, 8))
		e.receive("A", 30)
		e.receive("B", 30)
		var ids []string
		for round := range 4 {
			s := e.saga("saga", 0)
			stop := e.run(s)
			for i := range 10 {
				id := fmt.Sprintf("o-%d-%d", round, i)
				ids = append(ids, id)
				e.place(id, line("A", 1+r.Int64N(3)), line("B", 1+r.Int64N(3)))
				if r.IntN(4) == 0 {
					stop() // mid-flow: some reactions done, some not
				}
			}
			stop()
		}
		// Start over with a saga that has lost its checkpoint too.
		s := e.saga("fresh", 0)
		e.run(s)
		e.settle(s)
		before := len(e.all())
		e.checkInvariants(ids, []string{"A", "B"})

		// A replay of everything by yet another runner changes nothing.
		replay := e.saga("replay", 0)
		e.run(replay)
		e.settle(replay)
		if after := len(e.all()); after != before {
			t.Errorf("a replay wrote %d events", after-before)
		}
	})
}

// A failure particular to an order is recorded, not retried silently, and
// the other orders go on.
func TestSaga_FailureShown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, openStore)
	s := e.saga("saga", 0)
	e.run(s)
	e.receive("A", 5)
	// A stock stream holding an event that does not decode.
	if _, err := e.store.Append(t.Context(), domain.StockStream("BAD"), eventstore.Any, eventstore.EventData{
		ID: uuid.New(), Type: domain.TypeStockReserved, Data: []byte(`{"quantity":"many"}`)}); err != nil {
		t.Fatal(err)
	}
	e.place("o-1", line("A", 1), line("BAD", 1))
	e.place("o-2", line("A", 1))
	e.settle(s)
	f, failed := s.Failure("o-1")
	if !failed || !strings.Contains(f.Error, "stock-BAD") {
		t.Errorf("Failure(o-1) = %+v, %v; want the stock-BAD error", f, failed)
	}
	if o := e.order("o-2"); o.StockReservation != domain.ReservationReserved {
		t.Errorf("o-2 reservation %q", o.StockReservation)
	}
	// The order's next event retries, and fails again, visibly.
	if err := e.exec("o-1", domain.Cancel{}); err != nil {
		t.Fatal(err)
	}
	e.settle(s)
	if g, failed := s.Failure("o-1"); !failed || !g.At.Equal(f.At) && g.Trigger == f.Trigger {
		t.Errorf("Failure(o-1) after cancelling = %+v, %v", g, failed)
	}
	// A batch stopped by its context is to be handled again, not failed.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.HandleBatch(ctx, e.all()); err == nil {
		t.Error("HandleBatch with an ended context: no error")
	}
}

// A store that closes under the saga ends Run with ErrClosed, deadline
// loop included.
func TestSaga_StoreClosed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, openStore)
	s := e.saga("saga", time.Minute)
	done := make(chan error, 1)
	go func() { done <- s.Run(t.Context()) }()
	e.place("o-1", line("A", 1))
	e.settle(s)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("Run = %v, want ErrClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not return after the store closed")
	}
}

// Two runners under a random workload from several clients (receipts
// short of demand, placements, payments, shipments, cancellations, added
// lines): the invariants hold once they have settled.
func TestSaga_TwoRunnersRandomWorkload(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		a, b := e.saga("a", 0), e.saga("b", 0)
		e.run(a)
		e.run(b)
		skus := []string{"R-1", "R-2", "R-3"}
		var mu sync.Mutex
		var ids []string
		var wg sync.WaitGroup
		for c := range 6 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(c), 99))
				var mine []string
				for range 40 {
					switch n := r.IntN(10); {
					case n == 0:
						e.receive(skus[r.IntN(len(skus))], 1+r.Int64N(5))
					case n <= 3 || len(mine) == 0:
						id := fmt.Sprintf("w%d-%d", c, len(mine))
						e.place(id, line(skus[r.IntN(len(skus))], 1+r.Int64N(2)))
						mine = append(mine, id)
						mu.Lock()
						ids = append(ids, id)
						mu.Unlock()
					default:
						id := mine[r.IntN(len(mine))]
						o := e.order(id)
						var cmd domain.Command
						switch m := r.IntN(8); {
						case m < 3:
							cmd = domain.Pay{Amount: o.Total(), PaymentRef: "p"}
						case m < 5:
							cmd = domain.Ship{Carrier: "c", Tracking: "t"}
						case m < 6:
							cmd = domain.Cancel{Reason: "r"}
						default:
							for _, sku := range skus {
								if !slices.ContainsFunc(o.Lines, func(l domain.Line) bool { return l.SKU == sku }) {
									cmd = domain.AddLine{SKU: sku, Quantity: 1, UnitPrice: 100}
									break
								}
							}
						}
						if cmd == nil {
							continue
						}
						if err := e.exec(id, cmd); err != nil && !errors.Is(err, domain.ErrNotAllowed) && !errors.Is(err, domain.ErrInvalid) {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		e.settle(a, b)
		e.checkInvariants(ids, skus)
	})
}

// A placement is reacted to from the event alone, without reading the
// order's stream (the saga's fast path), but an order may have moved on
// since: a replay by a runner without a checkpoint meets orders whose
// lines were changed, cancelled, rejected, paid, shipped. None of them may
// take a step again (a removed line's stock, released, must not be
// reserved anew), and a deadline found in the replay runs from the
// reservation as recorded, not as decided again.
func TestSaga_ReplayOfOrdersMovedOn(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		const timeout = time.Hour
		first := e.saga("first", timeout)
		e.run(first)
		e.receive("A", 20)
		e.receive("B", 20)
		e.receive("C", 2)
		steps := map[string][]domain.Command{
			"removed":   {domain.RemoveLine{SKU: "B"}},
			"added":     {domain.AddLine{SKU: "A", Quantity: 2, UnitPrice: 100}},
			"readded":   {domain.RemoveLine{SKU: "B"}, domain.AddLine{SKU: "B", Quantity: 1, UnitPrice: 100}},
			"cancelled": {domain.Cancel{Reason: "customer"}},
			"paid":      {domain.Pay{Amount: 300, PaymentRef: "p"}},
			"shipped":   {domain.Pay{Amount: 300, PaymentRef: "p"}, domain.Ship{Carrier: "UPS", Tracking: "1"}},
			"unpaid":    nil,
		}
		ids := []string{"rejected"}
		e.place("rejected", line("A", 1), line("C", 3))
		for id := range steps {
			ids = append(ids, id)
			e.place(id, line("A", 1), line("B", 2))
		}
		e.settle(first)
		for id, cmds := range steps {
			for _, cmd := range cmds {
				if err := e.exec(id, cmd); err != nil {
					t.Fatalf("%s: %s: %v", id, cmd.CommandName(), err)
				}
			}
		}
		e.settle(first)
		if o := e.order("rejected"); o.Status != domain.StatusRejected {
			t.Fatalf("order rejected: %s", o.Status)
		}
		// (Not checkInvariants: lines grown have two reservations.)
		stockBefore := map[string]domain.Stock{"A": e.stock("A"), "B": e.stock("B"), "C": e.stock("C")}
		before := len(e.all())

		e.clock.Advance(10 * time.Minute)
		replay := e.saga("replay", timeout)
		e.run(replay)
		e.settle(replay)
		if all := e.all(); len(all) != before {
			for _, ev := range all[before:] {
				t.Errorf("the replay wrote %s to %s", ev.Type, ev.Stream)
			}
		}
		for sku, was := range stockBefore {
			if now := e.stock(sku); now.Reserved != was.Reserved || now.Shipped != was.Shipped {
				t.Errorf("stock %s after the replay %+v, before %+v", sku, now, was)
			}
		}
		for _, id := range ids {
			o := e.order(id)
			d, ok := replay.Deadline(id)
			want := o.PaymentDeadline(timeout)
			if ok != !want.IsZero() || !d.Equal(want) {
				t.Errorf("order %s (%s, %s): deadline after the replay %v, %v; want %v", id, o.Status, o.StockReservation, d, ok, want)
			}
		}
		if d, _ := replay.Deadline("unpaid"); d.Sub(e.clock.Now()) >= timeout {
			t.Errorf("the deadline %v runs from the replay", d)
		}
	})
}

// An order cancelled before the saga reacted to its placement: the saga,
// reacting from the placement alone, may reserve its stock, finds the
// order moved on when it records the reservation, and releases it.
func TestSaga_CancelledBeforeReaction(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		e.receive("A", 5)
		e.place("o-1", line("A", 2))
		if err := e.exec("o-1", domain.Cancel{Reason: "customer"}); err != nil {
			t.Fatal(err)
		}
		s := e.saga("saga", time.Hour)
		e.run(s)
		e.settle(s)
		if a := e.stock("A"); a.Reserved != 0 || a.Available() != 5 {
			t.Errorf("stock A %+v", a)
		}
		if o := e.order("o-1"); o.Status != domain.StatusCancelled || o.StockReservation == domain.ReservationReserved {
			t.Errorf("order %s, reservation %q", o.Status, o.StockReservation)
		}
		if f, failed := s.Failure("o-1"); failed {
			t.Errorf("failure %+v", f)
		}
		if _, ok := s.Deadline("o-1"); ok {
			t.Error("a cancelled order has a deadline")
		}
		e.checkInvariants([]string{"o-1"}, []string{"A"})
	})
}
