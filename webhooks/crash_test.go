package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"
)

// checkAtLeastOnce checks a campaign's arrivals: every event arrived (by
// webhook-id), each stream's first arrivals in order, and no more
// duplicates than maxDup.
func checkAtLeastOnce(t *testing.T, got []received, events, maxDup int) {
	t.Helper()
	u := unique(got)
	if len(u) != events {
		t.Errorf("%d distinct deliveries, want %d: events lost", len(u), events)
	}
	if dup := len(got) - len(u); dup > maxDup {
		t.Errorf("%d duplicates, more than the %d that can be in flight", dup, maxDup)
	}
	t.Logf("%d deliveries of %d events: %d duplicates (bound %d)", len(got), events, len(got)-len(u), maxDup)
	checkOrder(t, got)
}

// TestRestart_LosesNothing stops the notifier in the middle of a campaign,
// with deliveries in flight, reopens it and runs it again: every event
// arrives, in order per order, duplicated only if it was in flight.
func TestRestart_LosesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		dir := t.TempDir()
		store := open(t, dir)
		opts := fastOptions()
		opts.Concurrency = 4
		rc := newReceiver(t, nil)
		n, err := Open(dir, store, opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL}); err != nil {
			t.Fatal(err)
		}
		const orders, each = 8, 10
		for o := range orders {
			appendEvents(t, store, fmt.Sprintf("o%d", o), each)
		}
		for round := range 3 {
			stop := run(t, n)
			target := (round + 1) * orders * each / 4
			waitFor(t, "part of the campaign", rc.signal, func() bool { return len(unique(rc.deliveries())) >= target })
			stop()
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			if n, err = Open(dir, store, opts); err != nil {
				t.Fatal(err)
			}
		}
		run(t, n)
		t.Cleanup(func() { _ = n.Close() })
		waitFor(t, "the whole campaign", rc.signal, func() bool { return len(unique(rc.deliveries())) == orders*each })
		checkAtLeastOnce(t, rc.deliveries(), orders*each, 3*opts.Concurrency)
	})
}

// TestKill9_LosesNothing kills a delivering process with SIGKILL twice in
// the middle of a campaign: after the last restart every event arrived at
// least once, in order per order, and duplicates stay within what can be in
// flight or awaiting its commit at each kill.
func TestKill9_LosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes; skipped with -short")
	}
	dir := t.TempDir()
	const concurrency = 4
	// The receiver holds every request after the first `hold` until the
	// process is killed: the kill lands with deliveries in flight.
	var (
		mu      sync.Mutex
		hold    = 0
		release = make(chan struct{})
	)
	rc := newReceiver(t, func(r received, k int) (int, http.Header) {
		mu.Lock()
		held, ch := hold > 0 && k > hold, release
		mu.Unlock()
		if held {
			<-ch
		}
		return http.StatusOK, nil
	})
	{
		store := openEmbedded(t, dir)
		n := openNotifier(t, dir, store, fastOptions())
		if _, err := n.Create(t.Context(), NewEndpoint{URL: rc.srv.URL}); err != nil {
			t.Fatal(err)
		}
		for o := range 10 {
			appendEvents(t, store, fmt.Sprintf("o%d", o), 20)
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	}
	const events = 200
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDeliverer$", "-test.v")
		cmd.Env = append(os.Environ(), "WEBHOOKS_HELPER_DIR="+dir, fmt.Sprintf("WEBHOOKS_HELPER_CONCURRENCY=%d", concurrency))
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for _, at := range []int{events / 4, events / 2} {
		mu.Lock()
		hold = len(rc.deliveries()) + at/2
		mu.Unlock()
		cmd := start()
		waitFor(t, "deliveries held in flight", rc.signal, func() bool { return len(rc.deliveries()) > hold })
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait() //nolint:errcheck // killed
		mu.Lock()
		close(release)
		hold, release = 0, make(chan struct{})
		mu.Unlock()
	}
	cmd := start()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	})
	waitFor(t, "the whole campaign", rc.signal, func() bool { return len(unique(rc.deliveries())) == events })
	// At each kill, up to concurrency deliveries await their answer and
	// answeredPerSlot × concurrency answered ones their commit: all are
	// sent again.
	checkAtLeastOnce(t, rc.deliveries(), events, 2*(1+answeredPerSlot)*concurrency)
}

// TestHelperDeliverer is the process TestKill9_LosesNothing kills: it
// delivers the webhooks of WEBHOOKS_HELPER_DIR until killed.
func TestHelperDeliverer(t *testing.T) {
	dir := os.Getenv("WEBHOOKS_HELPER_DIR")
	if dir == "" {
		t.Skip("the child process of TestKill9_LosesNothing; runs only there")
	}
	store := openEmbedded(t, dir)
	opts := fastOptions()
	opts.Concurrency = 4
	n := openNotifier(t, dir, store, opts)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	_ = n.Run(ctx) //nolint:errcheck // ends with the kill
}
