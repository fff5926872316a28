package orders_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

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

// TestService_HotOrderNotHeld: commands on one order queue for its lock,
// and the holder's append must not wait for them: on a store that would
// hold a commit for an hour while commands are announced, they all end.
func TestService_HotOrderNotHeld(t *testing.T) {
	store, err := embedded.Open(t.TempDir(), embedded.Options{CommitHold: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	svc := orders.New(store, orders.Options{})
	req := orders.Request{CorrelationID: "c"}
	if _, err := svc.Place(t.Context(), domain.PlaceOrder{ID: "hot", CustomerID: "c", Currency: "EUR",
		Lines: []domain.Line{{SKU: "S", Quantity: 1, UnitPrice: 1}}}, req); err != nil {
		t.Fatal(err)
	}
	const commands = 16
	finished := make(chan error, commands)
	for i := range commands {
		go func() {
			_, err := svc.Execute(t.Context(), "hot", domain.AddLine{SKU: fmt.Sprintf("L%d", i), Quantity: 1, UnitPrice: 1}, req)
			finished <- err
		}()
	}
	for range commands {
		select {
		case err := <-finished:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("commands on one order still running after 30 s: a commit waits for the commands queued behind its own append")
		}
	}
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

// forgetful is a store as KurrentDB is once its cache of recent writes has
// let an append go (after a restart, or many writes later): it no longer
// recognises a retried Any append, and records its events a second time.
// It decorates the real store, as storetest.Sparse does, and fakes
// nothing: it turns an Any append into one at the version the stream is
// at, where no store looks for IDs recorded earlier (see Store.Append).
// Every other call goes to the store unchanged.
type forgetful struct{ eventstore.Store }

func (f forgetful) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if expected != eventstore.Any {
		return f.Store.Append(ctx, stream, expected, events...)
	}
	for {
		at := eventstore.NoStream
		recorded, err := f.Store.ReadStream(ctx, stream, 0, 0)
		switch {
		case errors.Is(err, eventstore.ErrNotFound):
		case err != nil:
			return eventstore.AppendResult{}, err
		default:
			at = eventstore.Exact(recorded[len(recorded)-1].Version)
		}
		res, err := f.Store.Append(ctx, stream, at, events...)
		if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			return res, err
		}
	}
}

// receipts returns the quantities of the stock events of sku by the
// idempotency key they were recorded with ("" for none), in stream order.
func receipts(t *testing.T, store eventstore.Store, sku string) (keys []string, quantities []int64) {
	t.Helper()
	recorded, err := store.ReadStream(t.Context(), domain.StockStream(sku), 0, 0)
	if err != nil && !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatal(err)
	}
	for _, r := range recorded {
		var meta struct {
			Key string `json:"idempotency_key"`
		}
		if err := json.Unmarshal(r.Metadata, &meta); err != nil {
			t.Fatal(err)
		}
		e, err := domain.Decode(r.Type, r.Data)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, meta.Key)
		quantities = append(quantities, e.(domain.StockReceived).Quantity)
	}
	return keys, quantities
}

// TestService_KeyedReceipt: a stock receipt with an idempotency key is
// recorded once however it is retried, even on a store that does not
// recognise a retried Any append (KurrentDB once its cache forgot the
// first attempt), because the service finds the key in the stream itself.
func TestService_KeyedReceipt(t *testing.T) {
	eachStore(t, func(t *testing.T, inner eventstore.Store) {
		store := forgetful{inner}
		ctx := t.Context()
		keyed := func(key, fingerprint string) orders.Request {
			return orders.Request{CorrelationID: "c", IdempotencyKey: key, Fingerprint: fingerprint}
		}

		t.Run("Repeated", func(t *testing.T) {
			svc := orders.New(store, orders.Options{})
			receive := domain.ReceiveStock{SKU: "REP", Quantity: 5}
			first, err := svc.ReceiveStock(ctx, receive, keyed("k", "f5"))
			if err != nil || first.Replayed {
				t.Fatalf("first receipt: %+v, %v", first, err)
			}
			for i := range 3 {
				again, err := svc.ReceiveStock(ctx, receive, keyed("k", "f5"))
				if err != nil {
					t.Fatal(err)
				}
				if !again.Replayed || again.Version != first.Version || again.Position != first.Position {
					t.Fatalf("retry %d: %+v, want the replay of %+v", i, again, first)
				}
			}
			if _, q := receipts(t, store, "REP"); len(q) != 1 {
				t.Fatalf("the stream holds receipts %v, want one of 5", q)
			}
		})

		t.Run("AfterOtherReceipts", func(t *testing.T) {
			svc := orders.New(store, orders.Options{})
			first, err := svc.ReceiveStock(ctx, domain.ReceiveStock{SKU: "AFT", Quantity: 5}, keyed("k1", "f5"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if _, err := svc.ReceiveStock(ctx, domain.ReceiveStock{SKU: "AFT", Quantity: int64(10 + i)}, orders.Request{CorrelationID: "c"}); err != nil {
					t.Fatal(err)
				}
			}
			second, err := svc.ReceiveStock(ctx, domain.ReceiveStock{SKU: "AFT", Quantity: 7}, keyed("k2", "f7"))
			if err != nil || second.Replayed {
				t.Fatalf("receipt with another key: %+v, %v", second, err)
			}
			// The first receipt is now deep in the stream, long gone from
			// any cache of recent writes.
			again, err := svc.ReceiveStock(ctx, domain.ReceiveStock{SKU: "AFT", Quantity: 5}, keyed("k1", "f5"))
			if err != nil {
				t.Fatal(err)
			}
			if !again.Replayed || again.Version != first.Version || again.Position != first.Position {
				t.Fatalf("retry after other receipts: %+v, want the replay of %+v", again, first)
			}
			keys, q := receipts(t, store, "AFT")
			if got := fmt.Sprintf("%q %v", keys, q); got != `["k1" "" "" "" "k2"] [5 10 11 12 7]` {
				t.Fatalf("the stream holds receipts %s, want k1's 5, three without key, k2's 7", got)
			}
		})

		t.Run("ReusedKey", func(t *testing.T) {
			svc := orders.New(store, orders.Options{})
			if _, err := svc.ReceiveStock(ctx, domain.ReceiveStock{SKU: "REU", Quantity: 5}, keyed("k", "f5")); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.ReceiveStock(ctx, domain.ReceiveStock{SKU: "REU", Quantity: 1}, orders.Request{CorrelationID: "c"}); err != nil {
				t.Fatal(err)
			}
			_, err := svc.ReceiveStock(ctx, domain.ReceiveStock{SKU: "REU", Quantity: 6}, keyed("k", "f6"))
			if !errors.Is(err, orders.ErrIdempotencyKeyReused) {
				t.Fatalf("the key again with quantity 6: %v, want ErrIdempotencyKeyReused", err)
			}
			if _, q := receipts(t, store, "REU"); fmt.Sprint(q) != "[5 1]" {
				t.Fatalf("the stream holds receipts %v, want [5 1]", q)
			}
		})

		// Two services over one store are two replicas: they share no
		// lock, so their attempts race in the store, beside receipts
		// without a key that move the stream meanwhile.
		t.Run("ConcurrentReplicas", func(t *testing.T) {
			a, b := orders.New(store, orders.Options{}), orders.New(store, orders.Options{})
			const rounds, perReplica = 10, 4
			receive := domain.ReceiveStock{SKU: "CON", Quantity: 3}
			for round := range rounds {
				req := keyed(fmt.Sprintf("race-%d", round), "f3")
				results := make([]orders.StockResult, 2*perReplica)
				var wg sync.WaitGroup
				for i := range results {
					svc := a
					if i%2 == 1 {
						svc = b
					}
					wg.Go(func() {
						res, err := svc.ReceiveStock(ctx, receive, req)
						if err != nil {
							t.Errorf("round %d, call %d: %v", round, i, err)
						}
						results[i] = res
					})
				}
				for range 2 {
					wg.Go(func() {
						if _, err := a.ReceiveStock(ctx, domain.ReceiveStock{SKU: "CON", Quantity: 1}, orders.Request{CorrelationID: "c"}); err != nil {
							t.Errorf("round %d, receipt without key: %v", round, err)
						}
					})
				}
				wg.Wait()
				if t.Failed() {
					return
				}
				written := 0
				for _, r := range results {
					if !r.Replayed {
						written++
					}
					if r.Version != results[0].Version || r.Position != results[0].Position {
						t.Fatalf("round %d: answers %+v and %+v differ", round, results[0], r)
					}
				}
				if written != 1 {
					t.Fatalf("round %d: %d answers say they wrote the receipt, want exactly one", round, written)
				}
			}
			keys, _ := receipts(t, store, "CON")
			perKey := map[string]int{}
			for _, k := range keys {
				perKey[k]++
			}
			for round := range rounds {
				if n := perKey[fmt.Sprintf("race-%d", round)]; n != 1 {
					t.Errorf("key race-%d is recorded %d times, want once", round, n)
				}
			}
			if perKey[""] != 2*rounds {
				t.Errorf("%d receipts without key, want %d", perKey[""], 2*rounds)
			}
		})
	})
}

// The service places orders under the policy it was given.
func TestService_ReserveStock(t *testing.T) {
	t.Parallel()
	for _, reserve := range []bool{false, true} {
		store := openStore(t, false)
		svc := orders.New(store, orders.Options{ReserveStock: reserve})
		res, err := svc.Place(t.Context(), domain.PlaceOrder{ID: "o-1", CustomerID: "c", Currency: "EUR",
			Lines: []domain.Line{{SKU: "A", Quantity: 1, UnitPrice: 1}}}, orders.Request{CorrelationID: "c"})
		if err != nil {
			t.Fatal(err)
		}
		want := domain.ReservationNone
		if reserve {
			want = domain.ReservationPending
		}
		if res.Order.ReserveStock != reserve || res.Order.StockReservation != want {
			t.Errorf("reserve %v: order %+v", reserve, res.Order)
		}
	}
}
