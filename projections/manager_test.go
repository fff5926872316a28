package projections

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/stock"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// appendEvents appends domain events to stream and returns the position
// of the last.
func appendEvents(tb testing.TB, s eventstore.Store, stream string, events ...domain.Event) uint64 {
	tb.Helper()
	res, err := s.Append(tb.Context(), stream, eventstore.Any, encode(events)...)
	if err != nil {
		tb.Fatal(err)
	}
	return res.Position
}

func appendRaw(tb testing.TB, s eventstore.Store, stream, typ, data string) uint64 {
	tb.Helper()
	res, err := s.Append(tb.Context(), stream, eventstore.Any,
		eventstore.EventData{ID: uuid.New(), Type: typ, Data: []byte(data)})
	if err != nil {
		tb.Fatal(err)
	}
	return res.Position
}

func placeOrder(tb testing.TB, s eventstore.Store, id string, lines ...domain.Line) uint64 {
	tb.Helper()
	return appendEvents(tb, s, domain.OrderStream(id),
		domain.OrderPlaced{OrderID: id, CustomerID: "c", Currency: "EUR", Lines: lines, PlacedAt: t0})
}

func receive(tb testing.TB, s eventstore.Store, sku string, q int64) uint64 {
	tb.Helper()
	return appendEvents(tb, s, domain.StockStream(sku), domain.StockReceived{SKU: sku, Quantity: q, ReceivedAt: t0})
}

func TestManager_ExactlyOnceAcrossRestart(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, stop := start(t, dir, s, Options{})
		for i := range 10 {
			receive(t, s, "A", 1)
			placeOrder(t, s, fmt.Sprint("o", i), domain.Line{SKU: "A", Quantity: 2, UnitPrice: 100})
		}
		head, _ := s.Head(t.Context())
		waitAll(t, m, head)
		stop()

		// While no projection runs: pay and ship three orders, cancel two,
		// receive more.
		for i := range 3 {
			appendEvents(t, s, domain.OrderStream(fmt.Sprint("o", i)),
				domain.OrderPaid{Amount: 200, PaymentRef: "p", PaidAt: t0}, domain.OrderShipped{Carrier: "c", Tracking: "t", ShippedAt: t0})
		}
		for i := 3; i < 5; i++ {
			appendEvents(t, s, domain.OrderStream(fmt.Sprint("o", i)), domain.OrderCancelled{CancelledAt: t0})
		}
		receive(t, s, "A", 5)

		m, _ = start(t, dir, s, Options{})
		head, _ = s.Head(t.Context())
		waitAll(t, m, head)
		item, pos, err := m.StockItem(t.Context(), "A")
		if err != nil || pos != head {
			t.Fatalf("StockItem = %+v at %d, %v; want position %d", item, pos, err, head)
		}
		want := stock.Item{SKU: "A", Received: 15, Reserved: 10, Shipped: 6, OnHand: 9, Available: -1}
		if item != want {
			t.Errorf("stock after restart = %+v, want %+v", item, want)
		}
		report, _, err := m.Analytics(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		wantStatus := analytics.StatusCounts{Placed: 5, Paid: 0, Shipped: 3, Cancelled: 2}
		if report.OrdersByStatus != wantStatus || report.OrdersTotal != 10 || report.Revenue["EUR"].Gross != 600 {
			t.Errorf("analytics after restart = %+v", report)
		}
	})
}

func TestManager_WaitForConcurrentWriters(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, _ := start(t, dir, s, Options{})
		const writers, receipts = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				sku := fmt.Sprint("RYW-", w)
				for i := range receipts {
					pos := receive(t, s, sku, 1)
					if err := m.WaitFor(t.Context(), stock.Name, pos); err != nil {
						errs <- err
						return
					}
					item, at, err := m.StockItem(t.Context(), sku)
					if err != nil {
						errs <- err
						return
					}
					// Our own write is visible, whatever others wrote since.
					if at < pos || item.Received != int64(i+1) {
						errs <- fmt.Errorf("%s after receipt %d at %d: %+v at %d", sku, i+1, pos, item, at)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

func TestManager_WaitForCancelled(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, _ := start(t, dir, s, Options{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		mustFail(t, m.WaitFor(ctx, stock.Name, 1), context.Canceled)
		mustFail(t, m.WaitFor(t.Context(), "nope", 1), ErrUnknownProjection)
		if err := m.WaitFor(t.Context(), analytics.Name, 0); err != nil {
			t.Errorf("WaitFor(0) = %v", err)
		}
	})
}

func TestManager_PoisonEvent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		t.Run("StockReceived", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			m, stop := start(t, dir, s, Options{})
			before := receive(t, s, "A", 3)
			poison := appendRaw(t, s, domain.StockStream("A"), domain.TypeStockReceived, `{"sku":"A","quantity":"x"}`)
			last := placeOrder(t, s, "o1", domain.Line{SKU: "A", Quantity: 1, UnitPrice: 100})

			st := waitStatus(t, m, stock.Name, func(s Status) bool { return s.State == StateFailed })
			if st.FailedPosition != poison || st.Position != before || !strings.Contains(st.LastError, "quantity") {
				t.Errorf("stock status = %+v, want failed at %d, checkpoint %d", st, poison, before)
			}
			if st.Head != last || st.Lag != 2 {
				t.Errorf("stock status = %+v, want head %d, lag 2 events", st, last)
			}
			// A restart resumes from the checkpoint, the position of the
			// event before the poison, and stops at the poison again.
			stop()
			m, _ = start(t, dir, s, Options{})
			st = waitStatus(t, m, stock.Name, func(s Status) bool { return s.State == StateFailed })
			if st.FailedPosition != poison || st.Position != before {
				t.Errorf("stock status after a restart = %+v, want failed at %d, checkpoint %d", st, poison, before)
			}
			mustFail(t, m.WaitFor(t.Context(), stock.Name, last), ErrFailed)
			if err := m.WaitFor(t.Context(), stock.Name, before); err != nil {
				t.Errorf("WaitFor before the poison = %v", err)
			}
			// Analytics does not read stock receipts: unaffected.
			if err := m.WaitFor(t.Context(), analytics.Name, last); err != nil {
				t.Fatal(err)
			}
			if st := waitStatus(t, m, analytics.Name, live); st.LastError != "" {
				t.Errorf("analytics status = %+v, want live without an error", st)
			}
			if item, _, err := m.StockItem(t.Context(), "A"); err != nil || item.Received != 3 {
				t.Errorf("stock of A = %+v, %v; want what came before the poison", item, err)
			}

			// A rebuild retries, and fails again on the same event.
			if err := m.Rebuild(stock.Name); err != nil {
				t.Fatal(err)
			}
			st = waitStatus(t, m, stock.Name, rebuilt)
			if st.State != StateFailed || !strings.HasPrefix(st.LastError, "rebuild: ") || st.FailedPosition != poison {
				t.Errorf("stock status after rebuild = %+v", st)
			}
		})
		t.Run("OrderPlaced", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			m, _ := start(t, dir, s, Options{})
			poison := appendRaw(t, s, domain.OrderStream("bad"), domain.TypeOrderPlaced, `{"lines":"x"}`)
			// Both projections read OrderPlaced: both stop at it.
			for _, name := range []string{stock.Name, analytics.Name} {
				st := waitStatus(t, m, name, func(s Status) bool { return s.State == StateFailed })
				if st.FailedPosition != poison || st.Position != 0 || !strings.Contains(st.LastError, "malformed") {
					t.Errorf("%s status = %+v, want failed at %d", name, st, poison)
				}
			}
		})
		t.Run("OrderNotPlaced", func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := openStore(t, dir)
			m, _ := start(t, dir, s, Options{})
			before := placeOrder(t, s, "o1", domain.Line{SKU: "A", Quantity: 1, UnitPrice: 100})
			poison := appendEvents(t, s, domain.OrderStream("ghost"), domain.OrderPaid{Amount: 1, PaymentRef: "p", PaidAt: t0})
			st := waitStatus(t, m, analytics.Name, func(s Status) bool { return s.State == StateFailed })
			if st.FailedPosition != poison || st.Position != before || !strings.Contains(st.LastError, "not open") {
				t.Errorf("analytics status = %+v, want failed at %d", st, poison)
			}
		})
	})
}

func TestManager_UnknownEventTypes(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, _ := start(t, dir, s, Options{})
		receive(t, s, "A", 1)
		appendRaw(t, s, "loyalty-1", "PointsGranted", `{"points":5}`)
		appendRaw(t, s, domain.OrderStream("o1"), "OrderGiftWrapped", `{}`)
		head := receive(t, s, "A", 1)
		waitAll(t, m, head)
		for _, name := range []string{stock.Name, analytics.Name} {
			if st := waitStatus(t, m, name, live); st.SkippedEvents != 2 || st.Lag != 0 {
				t.Errorf("%s status = %+v, want 2 skipped, live", name, st)
			}
		}
		if item, _, _ := m.StockItem(t.Context(), "A"); item.Received != 2 {
			t.Errorf("received = %d, want 2", item.Received)
		}
	})
}

// bumped is a projection whose version moved on.
type bumped struct{ stock.Projection }

func (bumped) Version() int { return stock.Version + 1 }

func TestManager_VersionBumpRebuilds(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, stop := start(t, dir, s, Options{})
		receive(t, s, "A", 4)
		head := placeOrder(t, s, "o1", domain.Line{SKU: "A", Quantity: 1, UnitPrice: 100})
		waitAll(t, m, head)
		before := readModels(t, m)
		stop()

		m, err := open(dir, s, Options{}, []projection{bumped{}, analytics.Projection{}})
		if err != nil {
			t.Fatal(err)
		}
		if st := status(t, m, stock.Name); st.State != StateRebuilding || st.Position != 0 || st.Version != stock.Version+1 {
			t.Errorf("status after a version bump = %+v", st)
		}
		run(t, m)
		waitAll(t, m, head)
		waitStatus(t, m, stock.Name, live)
		if after := readModels(t, m); after != before {
			t.Errorf("read models after the version bump\n%s\nwant\n%s", after, before)
		}
	})
}

func TestManager_RebuildErrors(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, err := Open(dir, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustFail(t, m.Rebuild("nope"), ErrUnknownProjection)
		// Not running: the request waits for Run, and a second one is refused.
		if err := m.Rebuild(analytics.Name); err != nil {
			t.Fatal(err)
		}
		mustFail(t, m.Rebuild(analytics.Name), ErrRebuildRunning)
		mustFail(t, m.Rebuild(all), ErrRebuildRunning)
		if err := m.Rebuild(stock.Name); err != nil {
			t.Fatal(err)
		}
		if st := status(t, m, stock.Name); st.State != StateRebuilding || st.Rebuild == nil {
			t.Errorf("status = %+v, want rebuilding", st)
		}
		run(t, m)
		for _, name := range []string{stock.Name, analytics.Name} {
			waitStatus(t, m, name, rebuilt)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		mustFail(t, m.Rebuild(stock.Name), ErrClosed)
		mustFail(t, RebuildOffline(t.Context(), dir, s, Options{}, []string{"nope"}, nil), ErrUnknownProjection)
	})
}

func TestManager_StockItemNotFound(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, _ := start(t, dir, s, Options{})
		_, _, err := m.StockItem(t.Context(), "never-seen")
		mustFail(t, err, stock.ErrNotFound)
		items, _, err := m.Stock(t.Context())
		if err != nil || items == nil || len(items) != 0 {
			t.Errorf("Stock = %#v, %v; want an empty list", items, err)
		}
	})
}

func TestOpen_Locked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	m, err := Open(dir, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close() //nolint:errcheck // checked by the second Close below
	_, err = Open(dir, s, Options{})
	mustFail(t, err, ErrLocked)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestManager_Metrics(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		reg := prometheus.NewPedanticRegistry()
		m, _ := start(t, dir, s, Options{Registerer: reg})
		appendRaw(t, s, domain.StockStream("A"), domain.TypeStockReceived, `{"quantity":"x"}`)
		appendRaw(t, s, "other-1", "Unknown", `{}`)
		head := placeOrder(t, s, "o1", domain.Line{SKU: "A", Quantity: 1, UnitPrice: 100})
		if err := m.WaitFor(t.Context(), analytics.Name, head); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, m, stock.Name, func(s Status) bool { return s.State == StateFailed })
		m.refreshMetrics(t.Context())

		for _, c := range []struct {
			name, projection, state string
			want                    float64
		}{
			{"orderstore_projection_position", "analytics", "", float64(head)},
			{"orderstore_projection_position", "stock", "", 0}, // the poison came first
			{"orderstore_projection_lag_events", "analytics", "", 0},
			{"orderstore_projection_lag_events", "stock", "", 3}, // the poison, other-1, o1
			{"orderstore_projection_skipped_events_total", "analytics", "", 1},
			{"orderstore_projection_state", "stock", string(StateFailed), 1},
			{"orderstore_projection_state", "stock", string(StateLive), 0},
			{"orderstore_projection_state", "analytics", string(StateLive), 1},
		} {
			if got := metric(t, reg, c.name, c.projection, c.state); got != c.want {
				t.Errorf("%s{projection=%q,state=%q} = %v, want %v", c.name, c.projection, c.state, got, c.want)
			}
		}
		if got := metric(t, reg, "orderstore_projection_lag_seconds", "stock", ""); got < 0 {
			t.Errorf("stock lag seconds = %v", got)
		}
	})
}

// metric returns the value of a gathered gauge or counter.
func metric(t *testing.T, reg *prometheus.Registry, name, projection, state string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["projection"] != projection || labels["state"] != state {
				continue
			}
			if c := mt.GetCounter(); c != nil {
				return c.GetValue()
			}
			return mt.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s{projection=%q,state=%q}", name, projection, state)
	return 0
}
