package fulfilment

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/eventstore/storetest"
)

// The steps of one SKU that queue together are decided in turn and
// appended in one append; these tests drive groups directly, on the
// embedded store and its sparse view, where two runners' groups overlap.

const groupSKU = "G-1"

func openGroupStores(t *testing.T) map[string]eventstore.Store {
	t.Helper()
	stores := make(map[string]eventstore.Store)
	for _, name := range []string{"embedded", "sparse"} {
		inner, err := embedded.Open(filepath.Join(t.TempDir(), name), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var s eventstore.Store = inner
		if name == "sparse" {
			s = storetest.NewSparse(inner)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		})
		stores[name] = s
	}
	return stores
}

// reserve is a step reserving qty for order, caused by trigger.
func reserve(ctx context.Context, trigger uuid.UUID, order string, qty int64) *stockReq {
	return &stockReq{ctx: ctx, cmd: domain.ReserveStock{OrderID: order, Quantity: qty},
		c: cause{trigger: trigger, correlation: order}, done: make(chan struct{})}
}

// loaded returns s's cache of groupSKU read from the stream.
func loaded(t *testing.T, s *Saga) *skuState {
	t.Helper()
	st := s.stock.get(groupSKU)
	if err := st.catchUp(t.Context(), s.store, domain.StockStream(groupSKU)); err != nil {
		t.Fatal(err)
	}
	st.loaded = true
	return st
}

// reservations returns the order of each StockReserved in groupSKU's
// stream, in stream order.
func reservations(t *testing.T, store eventstore.Store) []string {
	t.Helper()
	recorded, err := store.ReadStream(t.Context(), domain.StockStream(groupSKU), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recorded {
		e, err := domain.Decode(r.Type, r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := e.(domain.StockReserved); ok {
			out = append(out, e.OrderID)
		}
	}
	return out
}

func TestStepGroup(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	t1, t2, t3, t4 := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	for name, store := range openGroupStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			data, err := cause{trigger: uuid.New()}.encode("receive", domain.StockStream(groupSKU), eventstore.NoVersion,
				[]domain.Event{domain.StockReceived{SKU: groupSKU, Quantity: 10, ReceivedAt: now()}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.Append(ctx, domain.StockStream(groupSKU), eventstore.NoStream, data...); err != nil {
				t.Fatal(err)
			}
			a, b := New(store, Options{Now: now}), New(store, Options{Now: now})
			stA, stB := loaded(t, a), loaded(t, b)

			// A group with a step that cannot be decided: it fails alone.
			group := []*stockReq{reserve(ctx, t1, "o1", 2), reserve(ctx, t2, "o2", 0), reserve(ctx, t2, "o2b", 3)}
			a.stepGroup(groupSKU, stA, group)
			if group[0].err != nil || group[2].err != nil || group[1].err == nil {
				t.Fatalf("errors = %v, %v, %v; want only the second step's", group[0].err, group[1].err, group[2].err)
			}
			if group[0].hold.Reserved != 2 || group[2].hold.Reserved != 3 {
				t.Fatalf("holds = %+v, %+v", group[0].hold, group[2].hold)
			}

			// B, behind the stream, takes o1's step again in a group with a
			// new one: o1's events are where A put them (a duplicate ID
			// for the group), so B reads the stream, finds o1 reserved
			// and appends o3 alone.
			group = []*stockReq{reserve(ctx, t1, "o1", 2), reserve(ctx, t3, "o3", 1)}
			b.stepGroup(groupSKU, stB, group)
			for _, r := range group {
				if r.err != nil {
					t.Fatalf("%s: %v", stepOrder(r.cmd), r.err)
				}
			}
			if group[0].hold.Reserved != 2 || group[1].hold.Reserved != 1 {
				t.Fatalf("holds = %+v, %+v", group[0].hold, group[1].hold)
			}

			// A, now behind B, retries o2b's step alone at the version it
			// knows: the store recognises the append, and A's next group
			// catches up on the conflict.
			stA.version--
			stA.stock.Reserved -= 3
			delete(stA.stock.Holds, "o2b")
			group = []*stockReq{reserve(ctx, t2, "o2b", 3)}
			a.stepGroup(groupSKU, stA, group)
			if group[0].err != nil || group[0].hold.Reserved != 3 {
				t.Fatalf("retry: %+v, %v", group[0].hold, group[0].err)
			}
			group = []*stockReq{reserve(ctx, t4, "o4", 4), reserve(ctx, t4, "o5", 1)}
			a.stepGroup(groupSKU, stA, group)
			if group[0].err != nil || group[1].err != nil {
				t.Fatalf("after retry: %v, %v", group[0].err, group[1].err)
			}
			// 10 received, 2+3+1+4 reserved: o5 is refused.
			if group[0].hold.Reserved != 4 || !group[1].hold.Refused {
				t.Fatalf("holds = %+v, %+v", group[0].hold, group[1].hold)
			}
			got := reservations(t, store)
			want := []string{"o1", "o2b", "o3", "o4"}
			if len(got) != len(want) {
				t.Fatalf("reservations = %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("reservations = %v, want %v", got, want)
				}
			}
		})
	}
}
