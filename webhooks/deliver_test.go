package webhooks

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

func u64(v uint64) *uint64 { return &v }

// TestDeliver_SignedInOrderConcurrently: every event reaches the endpoint
// once, signed, each order's events in stream order, and different
// orders concurrently (the receiver holds the first delivery of one order
// until a delivery of another arrives).
func TestDeliver_SignedInOrderConcurrently(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		dir := t.TempDir()
		store := open(t, dir)
		n := openNotifier(t, dir, store, fastOptions())
		var (
			once    sync.Once
			release = make(chan struct{})
			mu      sync.Mutex
			first   string
		)
		rc := newReceiver(t, func(r received, k int) (int, http.Header) {
			mu.Lock()
			if k == 1 {
				first = r.Stream
			}
			held := first
			mu.Unlock()
			if k == 1 {
				select { // held until another order's delivery comes
				case <-release:
				case <-time.After(15 * time.Second):
					t.Errorf("no other order was delivered while the first was held")
				}
				return http.StatusOK, nil
			}
			if r.Stream != held {
				once.Do(func() { close(release) })
			}
			return http.StatusOK, nil
		})
		ep, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL + "/hook", Description: "test"})
		if err != nil {
			t.Fatal(err)
		}
		rc.expect(ep.Secret)
		run(t, n)
		const orders, each = 6, 5
		var wg sync.WaitGroup
		for o := range orders {
			wg.Go(func() { appendEvents(t, store, fmt.Sprintf("o%d", o), each) })
		}
		wg.Wait()
		waitFor(t, "every event delivered", rc.signal, func() bool { return len(unique(rc.deliveries())) == orders*each })
		got := rc.deliveries()
		checkOrder(t, got)
		if len(got) != orders*each {
			t.Errorf("%d deliveries for %d events: duplicates without a failure", len(got), orders*each)
		}
		ids := map[string]bool{}
		for _, r := range got {
			if ids[r.EventID] {
				t.Errorf("event %s delivered under two webhook-ids", r.EventID)
			}
			ids[r.EventID] = true
		}
		waitFor(t, "deliveries recorded", nil, func() bool {
			return len(deliveriesOf(t, n, ep.ID, DeliveryDelivered)) == orders*each
		})
	})
}

// TestDeliver_FromPosition: a new endpoint starts at the head, or replays
// history from the position it names.
func TestDeliver_FromPosition(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		dir := t.TempDir()
		store := open(t, dir)
		before := appendEvents(t, store, "old", 3)
		n := openNotifier(t, dir, store, fastOptions())
		now := newReceiver(t, nil)
		all := newReceiver(t, nil)
		if _, err := n.Create(t.Context(), NewEndpoint{URL: now.srv.URL}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Create(t.Context(), NewEndpoint{URL: all.srv.URL, FromPosition: u64(0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Create(t.Context(), NewEndpoint{URL: all.srv.URL, FromPosition: u64(before + 1_000_000)}); !isField(err, "from_position") {
			t.Errorf("from_position beyond the head: %v, want a ValidationError of from_position", err)
		}
		run(t, n)
		appendEvents(t, store, "new", 2)
		waitFor(t, "history replayed", all.signal, func() bool { return len(unique(all.deliveries())) == 5 })
		waitFor(t, "new events", now.signal, func() bool { return len(unique(now.deliveries())) == 2 })
		for _, r := range now.deliveries() {
			if r.Stream != "order-new" {
				t.Errorf("endpoint created at the head got an older event of %s", r.Stream)
			}
		}
		checkOrder(t, all.deliveries())
	})
}

// TestDeliver_EventFilter: an endpoint that names event types gets only
// those.
func TestDeliver_EventFilter(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	n := openNotifier(t, dir, store, fastOptions())
	rc := newReceiver(t, nil)
	if _, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL, Events: []string{"OrderPaid"}, FromPosition: u64(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL, Events: []string{"OrderPayed"}}); !isField(err, "events[0]") {
		t.Errorf("unknown event type: %v, want a ValidationError of events[0]", err)
	}
	appendEvents(t, store, "a", 3) // OrderLineAdded: filtered out
	if _, err := store.Append(t.Context(), "order-a", 2, paid()); err != nil {
		t.Fatal(err)
	}
	run(t, n)
	waitFor(t, "the OrderPaid", rc.signal, func() bool { return len(rc.deliveries()) >= 1 })
	if got := rc.deliveries(); len(got) != 1 || got[0].Type != "OrderPaid" {
		t.Errorf("got %+v, want the OrderPaid only", got)
	}
}

// TestDeliver_RetriesThenDeadLetter: a delivery that keeps failing is
// retried on the schedule, then dead-lettered; the order's later events do
// not wait for it; a retry by hand, one or all, delivers the dead.
func TestDeliver_RetriesThenDeadLetter(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	n := openNotifier(t, dir, store, fastOptions())
	var (
		mu   sync.Mutex
		fail = true
	)
	rc := newReceiver(t, func(r received, _ int) (int, http.Header) {
		mu.Lock()
		defer mu.Unlock()
		if fail && r.Version == 0 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusOK, nil
	})
	ep, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	run(t, n)
	appendEvents(t, store, "a", 3)
	appendEvents(t, store, "b", 2)
	waitFor(t, "two dead letters", rc.signal, func() bool { return len(deliveriesOf(t, n, ep.ID, DeliveryDead)) == 2 })
	dead := deliveriesOf(t, n, ep.ID, DeliveryDead)
	for _, d := range dead {
		if len(d.Attempts) != 3 {
			t.Errorf("dead delivery %s: %d attempts, want the schedule's 3", d.ID, len(d.Attempts))
		}
		for i, a := range d.Attempts {
			if a.Status != 500 || a.At.IsZero() {
				t.Errorf("attempt %d: %+v", i, a)
			}
		}
	}
	// The later events of both orders went on without the dead first one,
	// but only once it was dead: never while it was being retried.
	waitFor(t, "later events delivered", rc.signal, func() bool { return len(deliveriesOf(t, n, ep.ID, DeliveryDelivered)) == 3 })
	lastFirst, firstLater := map[string]int{}, map[string]int{}
	for i, r := range rc.deliveries() {
		if r.Version == 0 {
			lastFirst[r.Stream] = i
		} else if _, ok := firstLater[r.Stream]; !ok {
			firstLater[r.Stream] = i
		}
	}
	for stream, i := range firstLater {
		if i < lastFirst[stream] {
			t.Errorf("%s: a later event arrived while its first was still being retried", stream)
		}
	}

	mu.Lock()
	fail = false
	mu.Unlock()
	if err := n.Retry(t.Context(), ep.ID, dead[0].ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried dead letter delivered", rc.signal, func() bool { return len(deliveriesOf(t, n, ep.ID, DeliveryDead)) == 1 })
	if err := n.Retry(t.Context(), ep.ID, dead[0].ID); !errorsIs(err, ErrNotRetryable) {
		t.Errorf("retrying a delivered delivery: %v, want ErrNotRetryable", err)
	}
	if err := n.Retry(t.Context(), ep.ID, "msg_nope"); !errorsIs(err, ErrNotFound) {
		t.Errorf("retrying an unknown delivery: %v, want ErrNotFound", err)
	}
	k, err := n.RetryDead(t.Context(), ep.ID)
	if err != nil || k != 1 {
		t.Fatalf("RetryDead = %d, %v; want 1", k, err)
	}
	waitFor(t, "every delivery delivered", rc.signal, func() bool { return len(deliveriesOf(t, n, ep.ID, DeliveryDelivered)) == 5 })
}

// TestDeliver_RetryAfter: a 503 with Retry-After delays the next attempt
// by at least that long, however short the schedule.
func TestDeliver_RetryAfter(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	n := openNotifier(t, dir, store, fastOptions())
	rc := newReceiver(t, func(_ received, k int) (int, http.Header) {
		if k == 1 {
			return http.StatusServiceUnavailable, http.Header{"Retry-After": {"1"}}
		}
		return http.StatusOK, nil
	})
	ep, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	run(t, n)
	appendEvents(t, store, "a", 1)
	waitFor(t, "delivered", rc.signal, func() bool { return len(deliveriesOf(t, n, ep.ID, DeliveryDelivered)) == 1 })
	d := deliveriesOf(t, n, ep.ID, DeliveryDelivered)[0]
	if len(d.Attempts) != 2 || d.Attempts[0].Status != 503 || d.Attempts[1].Status != 200 {
		t.Fatalf("attempts %+v, want 503 then 200", d.Attempts)
	}
	if gap := d.Attempts[1].At.Sub(d.Attempts[0].At); gap < time.Second {
		t.Errorf("second attempt %v after the first, before Retry-After's 1s", gap)
	}
}

// TestDeliver_GoneDisables: 410 disables the endpoint; resuming it
// delivers what waited, in order.
func TestDeliver_GoneDisables(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	n := openNotifier(t, dir, store, fastOptions())
	var (
		mu   sync.Mutex
		gone = true
	)
	rc := newReceiver(t, func(received, int) (int, http.Header) {
		mu.Lock()
		defer mu.Unlock()
		if gone {
			return http.StatusGone, nil
		}
		return http.StatusOK, nil
	})
	ep, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	run(t, n)
	appendEvents(t, store, "a", 3)
	waitFor(t, "disabled", rc.signal, func() bool {
		e, err := n.Get(t.Context(), ep.ID)
		return err == nil && e.State == StateDisabled
	})
	if e, _ := n.Get(t.Context(), ep.ID); e.DisabledReason == "" {
		t.Error("a disabled endpoint says no reason")
	}
	mu.Lock()
	gone = false
	mu.Unlock()
	if _, err := n.Resume(t.Context(), ep.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivered after resume", rc.signal, func() bool { return len(deliveriesOf(t, n, ep.ID, DeliveryDelivered)) == 3 })
	checkOrder(t, rc.deliveries())
}

// TestDeliver_PauseResume: a paused endpoint gets nothing; resumed, it gets
// what waited.
func TestDeliver_PauseResume(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	n := openNotifier(t, dir, store, fastOptions())
	rc := newReceiver(t, nil)
	ep, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := n.Pause(t.Context(), ep.ID); err != nil || e.State != StatePaused {
		t.Fatalf("Pause: %+v, %v", e, err)
	}
	run(t, n)
	appendEvents(t, store, "a", 2)
	// A second endpoint, active, receiving: the paused one had as much time.
	other := newReceiver(t, nil)
	if _, err := n.Create(t.Context(), NewEndpoint{URL: other.srv.URL, FromPosition: u64(0)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the active endpoint served", other.signal, func() bool { return len(other.deliveries()) == 2 })
	if got := len(rc.deliveries()); got != 0 {
		t.Errorf("a paused endpoint got %d deliveries", got)
	}
	if _, err := n.Resume(t.Context(), ep.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivered after resume", rc.signal, func() bool { return len(rc.deliveries()) == 2 })
}

// TestDeliver_Rotation: after a rotation each delivery carries two
// signatures, one by the new secret, one by the old; after the grace
// period only the new.
func TestDeliver_Rotation(t *testing.T) {
	dir := t.TempDir()
	store := openEmbedded(t, dir)
	var (
		mu    sync.Mutex
		clock = time.Now()
	)
	opts := fastOptions()
	opts.RotationGrace = time.Hour
	opts.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	n := openNotifier(t, dir, store, opts)
	rc := newReceiver(t, nil)
	rc.now = opts.Now
	ep, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := n.RotateSecret(t.Context(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == ep.Secret || len(rotated.Secret) < len("whsec_")+32 {
		t.Fatalf("rotated secret %q", rotated.Secret)
	}
	if got, _ := n.Get(t.Context(), ep.ID); got.Secret != "" {
		t.Error("Get shows the secret")
	}
	rc.expect(rotated.Secret, ep.Secret)
	run(t, n)
	appendEvents(t, store, "a", 1)
	waitFor(t, "a delivery", rc.signal, func() bool { return len(rc.deliveries()) == 1 })
	if sigs := rc.deliveries()[0].Signatures; len(sigs) != 2 {
		t.Errorf("%d signatures during the grace period, want 2", len(sigs))
	}
	mu.Lock()
	clock = clock.Add(2 * time.Hour)
	mu.Unlock()
	rc.expect(rotated.Secret)
	appendEvents(t, store, "a", 1)
	waitFor(t, "a second delivery", rc.signal, func() bool { return len(rc.deliveries()) == 2 })
	if sigs := rc.deliveries()[1].Signatures; len(sigs) != 1 {
		t.Errorf("%d signatures after the grace period, want 1", len(sigs))
	}
}
