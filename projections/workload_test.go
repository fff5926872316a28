package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
)

// workload issues random valid commands through domain.Decide on folded
// order state and appends the events with exact expected versions, as the
// orders service does. Each workload owns the orders whose IDs start with
// its prefix, so several can write concurrently; stock receipts go to
// shared stock streams.
type workload struct {
	rng    *rand.Rand
	prefix string
	orders map[string]*trackedOrder
	open   []string // IDs of placed or paid orders
	placed int
	now    time.Time
}

type trackedOrder struct {
	o       domain.Order
	version int64
}

const (
	workloadSKUs = 30
	// maxOpenOrders keeps the generator finishing orders, not only placing.
	maxOpenOrders = 200
)

func sku(i int) string      { return fmt.Sprintf("SKU-%02d", i) }
func unitPrice(i int) int64 { return 100 + int64(i)*37 }
func randomSKU(r *rand.Rand) (string, int64) {
	i := r.IntN(workloadSKUs)
	return sku(i), unitPrice(i)
}

func newWorkload(seed uint64, prefix string) *workload {
	return &workload{
		rng:    rand.New(rand.NewPCG(seed, 7)),
		prefix: prefix,
		orders: map[string]*trackedOrder{},
		now:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seed%1000) * time.Minute),
	}
}

// resumeWorkload rebuilds a workload's state from the orders with prefix
// already in store, so that a new process can go on writing.
func resumeWorkload(ctx context.Context, store eventstore.Store, seed uint64, prefix string) (*workload, error) {
	w := newWorkload(seed, prefix)
	var after uint64
	for {
		events, err := store.ReadAll(ctx, after, 1000)
		if err != nil || len(events) == 0 {
			break
		}
		for _, ev := range events {
			after = ev.Position
			id, ok := strings.CutPrefix(ev.Stream, domain.OrderStreamPrefix)
			if !ok || !strings.HasPrefix(id, prefix) {
				continue
			}
			e, err := domain.Decode(ev.Type, ev.Data)
			if err != nil {
				return nil, err
			}
			t := w.orders[id]
			if t == nil {
				t = &trackedOrder{}
				w.orders[id] = t
				w.placed++
			}
			t.o, t.version = domain.Evolve(t.o, e), ev.Version
			if pe, ok := e.(domain.OrderPlaced); ok && pe.PlacedAt.After(w.now) {
				w.now = pe.PlacedAt
			}
		}
	}
	for id, t := range w.orders {
		if t.o.Status == domain.StatusPlaced || t.o.Status == domain.StatusPaid {
			w.open = append(w.open, id)
		}
	}
	return w, nil
}

// step carries out one random command and returns the position of its
// last event, or 0 if the command was refused (as a user's may be).
func (w *workload) step(ctx context.Context, store eventstore.Store) (uint64, error) {
	r := w.rng
	w.now = w.now.Add(time.Duration(r.IntN(20*60)) * time.Second)
	if x := r.IntN(100); x < 8 {
		s, _ := randomSKU(r)
		events, err := domain.DecideStock(domain.ReceiveStock{SKU: s, Quantity: int64(1 + r.IntN(50))}, w.now)
		if err != nil {
			return 0, err
		}
		res, err := store.Append(ctx, domain.StockStream(s), eventstore.Any, encode(events)...)
		return res.Position, err
	} else if len(w.open) == 0 || x < 30 && len(w.open) < maxOpenOrders {
		return w.place(ctx, store)
	}
	i := r.IntN(len(w.open))
	id := w.open[i]
	t := w.orders[id]
	var cmd domain.Command
	switch x := r.IntN(100); t.o.Status {
	case domain.StatusPlaced:
		switch {
		case x < 15:
			s, p := randomSKU(r)
			cmd = domain.AddLine{SKU: s, Quantity: int64(1 + r.IntN(4)), UnitPrice: p}
		case x < 25:
			cmd = domain.RemoveLine{SKU: t.o.Lines[r.IntN(len(t.o.Lines))].SKU}
		case x < 85:
			cmd = domain.Pay{Amount: t.o.Total(), PaymentRef: "pay-" + id}
		default:
			cmd = domain.Cancel{Reason: "changed mind"}
		}
	case domain.StatusPaid:
		if x < 80 {
			cmd = domain.Ship{Carrier: "dhl", Tracking: "trk-" + id}
		} else {
			cmd = domain.Cancel{Reason: "refund"}
		}
	}
	events, err := domain.Decide(t.o, cmd, w.now)
	if errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrNotAllowed) {
		return 0, nil // e.g. removing the only line
	}
	if err != nil {
		return 0, err
	}
	res, err := store.Append(ctx, domain.OrderStream(id), eventstore.Exact(t.version), encode(events)...)
	if err != nil {
		return 0, err
	}
	for _, e := range events {
		t.o = domain.Evolve(t.o, e)
	}
	t.version = res.Version
	if t.o.Status == domain.StatusShipped || t.o.Status == domain.StatusCancelled {
		w.open[i] = w.open[len(w.open)-1]
		w.open = w.open[:len(w.open)-1]
	}
	return res.Position, nil
}

func (w *workload) place(ctx context.Context, store eventstore.Store) (uint64, error) {
	r := w.rng
	w.placed++
	id := fmt.Sprintf("%s%d", w.prefix, w.placed)
	currency := "EUR"
	if x := r.IntN(100); x < 15 {
		currency = "USD"
	} else if x < 20 {
		currency = "JPY"
	}
	var lines []domain.Line
	for range 1 + r.IntN(4) {
		s, p := randomSKU(r)
		if !containsSKU(lines, s) {
			lines = append(lines, domain.Line{SKU: s, Quantity: int64(1 + r.IntN(5)), UnitPrice: p})
		}
	}
	cmd := domain.PlaceOrder{ID: id, CustomerID: fmt.Sprintf("cust-%d", r.IntN(100)), Currency: currency, Lines: lines}
	events, err := domain.Decide(domain.Order{}, cmd, w.now)
	if err != nil {
		return 0, err
	}
	res, err := store.Append(ctx, domain.OrderStream(id), eventstore.NoStream, encode(events)...)
	if err != nil {
		return 0, err
	}
	w.orders[id] = &trackedOrder{o: domain.Fold(events), version: res.Version}
	w.open = append(w.open, id)
	return res.Position, nil
}

func containsSKU(lines []domain.Line, s string) bool {
	for _, l := range lines {
		if l.SKU == s {
			return true
		}
	}
	return false
}

// encode turns domain events into events to append, with metadata.
func encode(events []domain.Event) []eventstore.EventData {
	out := make([]eventstore.EventData, len(events))
	for i, e := range events {
		typ, data, err := domain.Encode(e)
		if err != nil {
			panic(err) // the domain's own events always encode
		}
		id := uuid.New()
		meta, _ := json.Marshal(domain.Metadata{CorrelationID: id.String(), CausationID: id.String(), Schema: domain.SchemaVersion})
		out[i] = eventstore.EventData{ID: id, Type: typ, Data: data, Metadata: meta}
	}
	return out
}

// writeConcurrently runs at least commands random commands from writers
// concurrent workloads; with a stop channel, the writers go on until it is
// closed.
func writeConcurrently(ctx context.Context, store eventstore.Store, seed uint64, writers, commands int, stop <-chan struct{}) error {
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			w := newWorkload(seed+uint64(i), fmt.Sprintf("w%d-%d-", seed, i))
			for n := 0; ; n++ {
				if n >= commands/writers {
					select {
					case <-stop:
						return
					default:
						if stop == nil {
							return
						}
					}
				}
				if _, err := w.step(ctx, store); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
