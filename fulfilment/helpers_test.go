package fulfilment_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded/embeddedtest"
	"github.com/orderstore/orderstore/fulfilment"
	"github.com/orderstore/orderstore/orders"
)

// opener, openStore, openSparse and eachStore are embeddedtest's: the
// embedded store as itself and through storetest.Sparse.
type opener = embeddedtest.Opener

func openStore(tb testing.TB, dir string) eventstore.Store {
	tb.Helper()
	return embeddedtest.Open(tb, dir)
}

func openSparse(tb testing.TB, dir string) eventstore.Store {
	tb.Helper()
	return embeddedtest.OpenSparse(tb, dir)
}

func eachStore(t *testing.T, test func(t *testing.T, open opener)) {
	t.Helper()
	embeddedtest.Each(t, test)
}

// clock is a clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a store with the orders service placing orders under the reserve
// policy, and a clock.
type env struct {
	t     *testing.T
	dir   string
	store eventstore.Store
	svc   *orders.Service
	clock *clock
}

func newEnv(t *testing.T, open opener) *env {
	t.Helper()
	dir := t.TempDir()
	store := open(t, filepath.Join(dir, "store"))
	c := newClock()
	return &env{t: t, dir: dir, store: store, clock: c,
		svc: orders.New(store, orders.Options{Now: c.Now, ReserveStock: true})}
}

// saga returns a saga over the env's store with a checkpoint file in the
// env's directory (named name) and the given payment timeout.
func (e *env) saga(name string, timeout time.Duration) *fulfilment.Saga {
	return fulfilment.New(e.store, fulfilment.Options{
		Now: e.clock.Now, PaymentTimeout: timeout,
		CheckpointFile: filepath.Join(e.dir, name+".checkpoint"),
	})
}

// run runs s until the test ends or the returned stop is called.
func (e *env) run(s interface{ Run(context.Context) error }) (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(e.t.Context()))
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("saga Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// settle waits until every saga has handled every event of the store,
// including those they wrote themselves.
func (e *env) settle(sagas ...*fulfilment.Saga) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	defer cancel()
	for {
		head, err := e.store.Head(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, s := range sagas {
			if err := s.WaitFor(ctx, head); err != nil {
				e.t.Fatalf("saga did not reach position %d: %v", head, err)
			}
		}
		again, err := e.store.Head(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if again == head {
			return
		}
	}
}

func (e *env) receive(sku string, q int64) {
	e.t.Helper()
	if _, err := e.svc.ReceiveStock(e.t.Context(), domain.ReceiveStock{SKU: sku, Quantity: q}, orders.Request{CorrelationID: "recv"}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) place(id string, lines ...domain.Line) {
	e.t.Helper()
	cmd := domain.PlaceOrder{ID: id, CustomerID: "c-1", Currency: "EUR", Lines: lines}
	if _, err := e.svc.Place(e.t.Context(), cmd, orders.Request{CorrelationID: "corr-" + id}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) exec(id string, cmd domain.Command) error {
	_, err := e.svc.Execute(e.t.Context(), id, cmd, orders.Request{CorrelationID: "corr-" + id + "-" + cmd.CommandName()})
	return err
}

func (e *env) order(id string) domain.Order {
	e.t.Helper()
	o, _, err := e.svc.Load(e.t.Context(), id, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func line(sku string, q int64) domain.Line { return domain.Line{SKU: sku, Quantity: q, UnitPrice: 100} }

// stock folds a SKU's stock stream.
func (e *env) stock(sku string) domain.Stock {
	e.t.Helper()
	var s domain.Stock
	for _, ev := range e.events(domain.StockStream(sku)) {
		s.Apply(ev.event)
	}
	return s
}

type recorded struct {
	eventstore.RecordedEvent
	event domain.Event
	meta  struct {
		domain.Metadata
		Actor string `json:"actor"`
	}
}

// events returns the decoded events of a stream.
func (e *env) events(stream string) []recorded {
	e.t.Helper()
	raw, err := e.store.ReadStream(e.t.Context(), stream, 0, 0)
	if errors.Is(err, eventstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]recorded, len(raw))
	for i, r := range raw {
		out[i].RecordedEvent = r
		if out[i].event, err = domain.Decode(r.Type, r.Data); err != nil {
			e.t.Fatal(err)
		}
		if err := json.Unmarshal(r.Metadata, &out[i].meta); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

// all returns every event of the store.
func (e *env) all() []eventstore.RecordedEvent {
	e.t.Helper()
	var out []eventstore.RecordedEvent
	var after uint64
	for {
		page, err := e.store.ReadAll(e.t.Context(), after, 1000)
		if err != nil {
			e.t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Position
	}
}

// checkInvariants checks what must hold once the saga has settled the
// orders ids over the SKUs skus: every order settled; for every SKU,
// reserved = the quantities of the open orders holding stock, available ≥
// 0; no step recorded twice.
func (e *env) checkInvariants(ids, skus []string) {
	e.t.Helper()
	want := make(map[string]int64)
	for _, id := range ids {
		o := e.order(id)
		switch {
		case o.Status == domain.StatusRejected, o.Status == domain.StatusCancelled:
			if o.StockReservation != domain.ReservationReleased {
				e.t.Errorf("order %s %s with reservation %q", id, o.Status, o.StockReservation)
			}
		case o.StockReservation == domain.ReservationReserved && (o.Status == domain.StatusPlaced || o.Status == domain.StatusPaid):
			for _, l := range o.Lines {
				want[l.SKU] += l.Quantity
			}
		case o.StockReservation == domain.ReservationReserved && o.Status == domain.StatusShipped:
		default:
			e.t.Errorf("order %s not settled: %s, reservation %q", id, o.Status, o.StockReservation)
		}
		counts := make(map[string]int)
		for _, ev := range e.events(domain.OrderStream(id)) {
			counts[ev.Type]++
		}
		if counts[domain.TypeOrderRejected] > 1 || counts[domain.TypeOrderCancelled] > 1 || counts[domain.TypeOrderPaid] > 1 {
			e.t.Errorf("order %s: events %v", id, counts)
		}
	}
	for _, sku := range skus {
		s := e.stock(sku)
		if s.Reserved != want[sku] || s.Available() < 0 {
			e.t.Errorf("stock %s: reserved %d (want %d), available %d", sku, s.Reserved, want[sku], s.Available())
		}
		steps := make(map[string]int)
		for _, ev := range e.events(domain.StockStream(sku)) {
			var order string
			switch x := ev.event.(type) {
			case domain.StockReserved:
				order = x.OrderID
			case domain.StockReservationRefused:
				order = x.OrderID
			case domain.StockReleased:
				order = x.OrderID
			case domain.StockShipped:
				order = x.OrderID
			default:
				continue
			}
			key := fmt.Sprintf("%s %s", ev.Type, order)
			if steps[key]++; steps[key] > 1 {
				e.t.Errorf("stock %s: %s recorded twice", sku, key)
			}
		}
	}
}
