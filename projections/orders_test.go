package projections

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/orderlist"
)

// listAll pages through the order list that f selects, limit orders at a
// time, and returns it.
func listAll(tb testing.TB, m *Manager, f orderlist.Filter, limit int) []orderlist.Summary {
	tb.Helper()
	var out []orderlist.Summary
	f.Limit = limit
	for {
		page, _, err := m.Orders(tb.Context(), f)
		if err != nil {
			tb.Fatal(err)
		}
		if len(page.Orders) == 0 {
			return out
		}
		out, f.After = append(out, page.Orders...), page.Next
	}
}

// TestManager_OrdersMatchStreams checks each summary of the order list
// against its order folded from its stream, and each filter against the
// whole list.
func TestManager_OrdersMatchStreams(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, _ := start(t, dir, s, Options{})
		if err := writeConcurrently(t.Context(), s, 3, 4, 2_000, nil); err != nil {
			t.Fatal(err)
		}
		head, _ := s.Head(t.Context())
		waitAll(t, m, head)
		all := listAll(t, m, orderlist.Filter{}, 1000)
		if len(all) < 100 {
			t.Fatalf("only %d orders listed", len(all))
		}
		byStatus := map[domain.Status]int{}
		for _, o := range all {
			byStatus[o.Status]++
			events, err := s.ReadStream(t.Context(), domain.OrderStream(o.ID), 0, 10_000)
			if err != nil {
				t.Fatal(err)
			}
			var folded domain.Order
			for _, ev := range events {
				e, err := domain.Decode(ev.Type, ev.Data)
				if err != nil {
					t.Fatal(err)
				}
				folded = domain.Evolve(folded, e)
			}
			last := events[len(events)-1]
			want := orderlist.Summary{ID: o.ID, CustomerID: folded.CustomerID, Status: folded.Status, Currency: folded.Currency,
				Total: folded.Total(), LineCount: len(folded.Lines), Version: last.Version, Position: last.Position,
				PlacedAt: folded.PlacedAt, PaidAt: o.PaidAt, ShippedAt: o.ShippedAt, CancelledAt: o.CancelledAt,
				CancelReason: folded.CancelReason}
			for _, at := range []struct {
				got  *time.Time
				want time.Time
			}{{o.PaidAt, folded.PaidAt}, {o.ShippedAt, folded.ShippedAt}, {o.CancelledAt, folded.CancelledAt}} {
				if (at.got == nil) != at.want.IsZero() || at.got != nil && !at.got.Equal(at.want) {
					t.Errorf("order %s: time %v, want %v", o.ID, at.got, at.want)
				}
			}
			if !o.PlacedAt.Equal(want.PlacedAt) {
				t.Errorf("order %s placed at %v, want %v", o.ID, o.PlacedAt, want.PlacedAt)
			}
			want.PlacedAt = o.PlacedAt
			if o != want {
				t.Errorf("order %s listed as\n%+v\nwant\n%+v", o.ID, o, want)
			}
		}
		if len(byStatus) < 4 {
			t.Errorf("a workload that does not reach every status proves little: %v", byStatus)
		}
		for _, f := range []orderlist.Filter{
			{CustomerID: "cust-7"}, {Status: domain.StatusPlaced}, {Status: domain.StatusPaid},
			{Status: domain.StatusShipped}, {Status: domain.StatusCancelled}, {CustomerID: "cust-7", Status: domain.StatusShipped},
		} {
			want := slices.DeleteFunc(slices.Clone(all), func(o orderlist.Summary) bool {
				return f.CustomerID != "" && o.CustomerID != f.CustomerID || f.Status != "" && o.Status != f.Status
			})
			if got := listAll(t, m, f, 7); !reflect.DeepEqual(got, want) {
				t.Errorf("%+v: %d orders listed, want %d", f, len(got), len(want))
			}
		}
	})
}

// TestManager_OrdersPagingUnderWrites pages through the order list while
// orders are placed: every order is listed once, in the order placed.
func TestManager_OrdersPagingUnderWrites(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, _ := start(t, dir, s, Options{})
		stop := make(chan struct{})
		written := make(chan error, 1)
		go func() { written <- writeConcurrently(t.Context(), s, 5, 4, 2_000, stop) }()

		var paged []orderlist.Summary
		f := orderlist.Filter{Limit: 5}
		pages, stopped := 0, false
		for {
			page, _, err := m.Orders(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			paged, f.After = append(paged, page.Orders...), page.Next
			if len(page.Orders) > 0 || stopped {
				if stopped && len(page.Orders) == 0 {
					break
				}
				continue
			}
			// Caught up with the read model: once enough pages were read
			// under writes, stop the writers and read the rest.
			if pages < 100 {
				if err := m.WaitFor(t.Context(), orderlist.Name, nthEvent(t, s, m.runner(orderlist.Name).checkpoint().Position, 20)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			close(stop)
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			head, _ := s.Head(t.Context())
			waitAll(t, m, head)
			stopped = true
		}
		all := listAll(t, m, orderlist.Filter{}, 1000)
		seen := map[string]bool{}
		for i, o := range paged {
			if seen[o.ID] {
				t.Fatalf("order %s listed twice", o.ID)
			}
			seen[o.ID] = true
			if o.ID != all[i].ID {
				t.Fatalf("order %d of the pages is %s, of the list %s", i, o.ID, all[i].ID)
			}
		}
		if len(paged) != len(all) {
			t.Fatalf("%d orders paged, %d listed", len(paged), len(all))
		}
		t.Logf("%d orders in %d pages", len(paged), pages)
	})
}
