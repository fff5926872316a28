package orders_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/eventstore/storetest"
	"github.com/orderstore/orderstore/orders"
)

// eachStore runs test once on each shape of store the service must work
// on, as the subtests "embedded" (dense positions) and "sparse" (the same
// store behind storetest.Sparse: KurrentDB's shape, with positions that
// are tokens and other applications' events that the view hides).
func eachStore(t *testing.T, test func(t *testing.T, store eventstore.Store)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { test(t, openStore(t, false)) })
	t.Run("sparse", func(t *testing.T) { test(t, openStore(t, true)) })
}

// openStore opens an embedded store in a temp directory, behind
// storetest.Sparse if sparse, and closes it when the test ends.
func openStore(t *testing.T, sparse bool) eventstore.Store {
	t.Helper()
	inner, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var s eventstore.Store = inner
	if sparse {
		s = storetest.NewSparse(inner, domain.OrderStreamPrefix, domain.StockStreamPrefix)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// countAll returns the number of events the store shows in $all: on a
// sparse store positions are tokens, so the head is not a count.
func countAll(t *testing.T, store eventstore.Store) int {
	t.Helper()
	all, err := store.ReadAll(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// TestService_ReplicasRace: two services on one store stand for two
// replicas; their writers do not share the in-process lock, so conflicts
// reach the store and the retry loop must absorb them without losing one.
func TestService_ReplicasRace(t *testing.T) {
	eachStore(t, func(t *testing.T, store eventstore.Store) {
		a, b := orders.New(store, orders.Options{}), orders.New(store, orders.Options{})
		req := orders.Request{CorrelationID: "c"}
		_, err := a.Place(t.Context(), domain.PlaceOrder{ID: "o", CustomerID: "c", Currency: "EUR",
			Lines: []domain.Line{{SKU: "S", Quantity: 1, UnitPrice: 1}}}, req)
		if err != nil {
			t.Fatal(err)
		}
		const perReplica = 6
		var wg sync.WaitGroup
		for i := range 2 * perReplica {
			svc := a
			if i%2 == 1 {
				svc = b
			}
			wg.Go(func() {
				_, err := svc.Execute(t.Context(), "o", domain.AddLine{SKU: fmt.Sprintf("L%d", i), Quantity: 1, UnitPrice: 1}, req)
				if err != nil {
					t.Errorf("add line %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		o, version, err := a.Load(t.Context(), "o", -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Lines) != 1+2*perReplica || version != 2*perReplica {
			t.Fatalf("order has %d lines at version %d, want %d at %d", len(o.Lines), version, 1+2*perReplica, 2*perReplica)
		}
	})
}

func TestService_IfMatch(t *testing.T) {
	eachStore(t, func(t *testing.T, store eventstore.Store) {
		svc := orders.New(store, orders.Options{})
		_, err := svc.Place(t.Context(), domain.PlaceOrder{ID: "o", CustomerID: "c", Currency: "EUR",
			Lines: []domain.Line{{SKU: "S", Quantity: 1, UnitPrice: 1}}}, orders.Request{CorrelationID: "c"})
		if err != nil {
			t.Fatal(err)
		}
		stale := int64(3)
		_, err = svc.Execute(t.Context(), "o", domain.Cancel{}, orders.Request{CorrelationID: "c", IfMatch: &stale})
		var vm *orders.VersionMismatchError
		if !errors.As(err, &vm) || vm.Actual != 0 || !errors.Is(err, orders.ErrVersionMismatch) {
			t.Fatalf("stale If-Match: %v, want VersionMismatchError at 0", err)
		}
	})
}

// TestService_IdempotentReplay: a key replays the first outcome even after
// the order moved on, and refuses a different request.
func TestService_IdempotentReplay(t *testing.T) {
	eachStore(t, func(t *testing.T, store eventstore.Store) {
		svc := orders.New(store, orders.Options{})
		place := domain.PlaceOrder{CustomerID: "c", Currency: "EUR", Lines: []domain.Line{{SKU: "S", Quantity: 2, UnitPrice: 5}}}
		req := orders.Request{CorrelationID: "c", IdempotencyKey: "k1", Fingerprint: "f1"}
		first, err := svc.Place(t.Context(), place, req)
		if err != nil {
			t.Fatal(err)
		}
		if first.Order.ID != orders.OrderIDForKey("k1") {
			t.Fatalf("order ID %s not derived from the key", first.Order.ID)
		}
		if _, err := svc.Execute(t.Context(), first.Order.ID, domain.Pay{Amount: 10, PaymentRef: "p"}, orders.Request{CorrelationID: "c"}); err != nil {
			t.Fatal(err)
		}
		again, err := svc.Place(t.Context(), place, req)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Replayed || again.Version != 0 || again.Order.Status != domain.StatusPlaced {
			t.Fatalf("replay: %+v, want the placed order at version 0", again)
		}
		req.Fingerprint = "f2"
		if _, err := svc.Place(t.Context(), place, req); !errors.Is(err, orders.ErrIdempotencyKeyReused) {
			t.Fatalf("reused key with another request: %v", err)
		}
	})
}

// TestService_RacingRetries: two replicas take the same keyed request at
// once. The store writes it once; the loser must answer the recorded
// outcome (marked replayed), not its own decision.
func TestService_RacingRetries(t *testing.T) {
	eachStore(t, func(t *testing.T, store eventstore.Store) {
		a, b := orders.New(store, orders.Options{}), orders.New(store, orders.Options{})
		place := domain.PlaceOrder{CustomerID: "c", Currency: "EUR", Lines: []domain.Line{{SKU: "S", Quantity: 1, UnitPrice: 5}}}
		for round := range 30 {
			req := orders.Request{CorrelationID: "c", IdempotencyKey: fmt.Sprintf("race-%d", round), Fingerprint: "f"}
			results := make([]orders.Result, 2)
			var wg sync.WaitGroup
			for i, svc := range []*orders.Service{a, b} {
				wg.Go(func() {
					res, err := svc.Place(t.Context(), place, req)
					if err != nil {
						t.Errorf("round %d: %v", round, err)
					}
					results[i] = res
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			r0, r1 := results[0], results[1]
			if r0.Order.PlacedAt != r1.Order.PlacedAt || r0.Position != r1.Position || r0.Version != r1.Version {
				t.Fatalf("round %d: the two answers differ: %+v vs %+v", round, r0, r1)
			}
			if r0.Replayed == r1.Replayed {
				t.Fatalf("round %d: replayed flags %v and %v, want exactly one replay", round, r0.Replayed, r1.Replayed)
			}
		}
		if n := countAll(t, store); n != 30 {
			t.Fatalf("log holds %d events, want 30: one per key", n)
		}
	})
}
