package webhooks

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestDeliver_RowsWrittenOnce: a delivery has a row only from its first
// outcome; the checkpoint stays before those without one. A delivery
// waiting behind one to be retried gets a pending row, so the checkpoint
// passes it; after a restart nothing delivered is sent again, and the
// held order goes on, in order, once its first event is retried by hand.
func TestDeliver_RowsWrittenOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		dir := t.TempDir()
		store := open(t, dir)
		opts := fastOptions()
		opts.RetrySchedule = []time.Duration{0, time.Hour} // the second attempt waits
		n := openNotifier(t, dir, store, opts)
		var (
			mu   sync.Mutex
			fail = true
		)
		rc := newReceiver(t, func(r received, _ int) (int, http.Header) {
			mu.Lock()
			defer mu.Unlock()
			if fail && r.Stream == "order-held" {
				return http.StatusServiceUnavailable, nil
			}
			return http.StatusOK, nil
		})
		ep, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		appendEvents(t, store, "held", 2)
		last := appendEvents(t, store, "a", 3)
		stop := run(t, n)
		waitFor(t, "order a delivered and the held order's first attempted", rc.signal, func() bool {
			return len(deliveriesOf(t, n, ep.ID, DeliveryDelivered)) == 3 && len(deliveriesOf(t, n, ep.ID, DeliveryFailed)) == 1
		})
		// The held order's second event waits, with a row of its own, and
		// the checkpoint is past it: at the last event read.
		waitFor(t, "the checkpoint past the held order", nil, func() bool {
			got, err := n.Get(t.Context(), ep.ID)
			return err == nil && got.Position == last
		})
		pending := deliveriesOf(t, n, ep.ID, DeliveryPending)
		if len(pending) != 1 || pending[0].Stream != "order-held" || len(pending[0].Attempts) != 0 {
			t.Fatalf("pending: %+v, want the held order's second event", pending)
		}
		failed := deliveriesOf(t, n, ep.ID, DeliveryFailed)
		if len(failed) != 1 || failed[0].Stream != "order-held" || failed[0].NextAttemptAt == nil {
			t.Fatalf("failed: %+v, want the held order's first event, to be retried", failed)
		}

		// A restart sends nothing delivered again, and goes on.
		stop()
		before := len(rc.deliveries())
		run(t, n)
		appendEvents(t, store, "b", 1)
		waitFor(t, "order b delivered", rc.signal, func() bool { return len(deliveriesOf(t, n, ep.ID, DeliveryDelivered)) == 4 })
		if got := rc.deliveries()[before:]; len(got) != 1 || got[0].Stream != "order-b" {
			t.Errorf("after the restart the receiver got %+v, want order b's event only", got)
		}

		mu.Lock()
		fail = false
		mu.Unlock()
		if err := n.Retry(t.Context(), ep.ID, failed[0].ID); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the held order delivered", rc.signal, func() bool { return len(deliveriesOf(t, n, ep.ID, DeliveryDelivered)) == 6 })
		checkOrder(t, rc.deliveries())
	})
}

// TestDeliver_PendingWithoutRow: a delivery in flight has no row yet; it
// is listed as pending all the same, and is not retryable.
func TestDeliver_PendingWithoutRow(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	n := openNotifier(t, dir, store, fastOptions())
	release := make(chan struct{})
	rc := newReceiver(t, func(received, int) (int, http.Header) {
		<-release
		return http.StatusOK, nil
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	ep, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	run(t, n)
	pos := appendEvents(t, store, "a", 1)
	waitFor(t, "the delivery in flight", rc.signal, func() bool { return len(rc.deliveries()) == 1 })
	for _, state := range []DeliveryState{DeliveryPending, ""} {
		page, err := n.Deliveries(t.Context(), ep.ID, DeliveryFilter{State: state})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Deliveries) != 1 || page.Deliveries[0].Position != pos || page.Deliveries[0].State != DeliveryPending ||
			page.Deliveries[0].ID != rc.deliveries()[0].ID || page.Deliveries[0].Attempts == nil {
			t.Fatalf("deliveries (state %q): %+v, want the one in flight, pending", state, page.Deliveries)
		}
	}
	if page, err := n.Deliveries(t.Context(), ep.ID, DeliveryFilter{After: pos}); err != nil || len(page.Deliveries) != 0 {
		t.Errorf("deliveries after it: %+v, %v; want none", page.Deliveries, err)
	}
	if err := n.Retry(t.Context(), ep.ID, rc.deliveries()[0].ID); !errorsIs(err, ErrNotRetryable) {
		t.Errorf("retrying a delivery in flight: %v, want ErrNotRetryable", err)
	}
	close(release)
	waitFor(t, "delivered", rc.signal, func() bool { return len(deliveriesOf(t, n, ep.ID, DeliveryDelivered)) == 1 })
	if got := deliveriesOf(t, n, ep.ID, ""); len(got) != 1 || !slices.ContainsFunc(got, func(d Delivery) bool { return d.State == DeliveryDelivered }) {
		t.Errorf("deliveries: %+v, want one, delivered", got)
	}
}
