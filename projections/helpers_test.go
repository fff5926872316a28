package projections

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded/embeddedtest"
	"github.com/orderstore/orderstore/projections/orderlist"
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

// countEvents returns the number of events store shows.
func countEvents(tb testing.TB, store eventstore.Store) uint64 {
	tb.Helper()
	var n, after uint64
	for {
		page, err := store.ReadAll(tb.Context(), after, 1000)
		if err != nil {
			tb.Fatal(err)
		}
		if len(page) == 0 {
			return n
		}
		n += uint64(len(page))
		after = page[len(page)-1].Position
	}
}

// nthEvent waits until store has n events after the position after, and
// returns the position of the nth.
func nthEvent(tb testing.TB, store eventstore.Store, after uint64, n int) uint64 {
	tb.Helper()
	var pos uint64
	found := errors.New("found")
	err := store.Subscribe(tb.Context(), after, func(events []eventstore.RecordedEvent) error {
		if len(events) < n {
			n -= len(events)
			return nil
		}
		pos = events[n-1].Position
		return found
	})
	if !errors.Is(err, found) {
		tb.Fatalf("waiting for %d more events: %v", n, err)
	}
	return pos
}

// start opens a Manager on dir and runs it until the returned stop is
// called or the test ends; stop closes it and checks Run's result.
func start(tb testing.TB, dir string, store eventstore.Store, opts Options) (m *Manager, stop func()) {
	tb.Helper()
	m, err := Open(dir, store, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return m, run(tb, m)
}

// run runs m and returns a stop function, also registered for cleanup.
func run(tb testing.TB, m *Manager) (stop func()) {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- m.Run(tb.Context()) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		if err := m.Close(); err != nil {
			tb.Error(err)
		}
		// ErrClosed: the test was over before Run started.
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			tb.Errorf("Run: %v", err)
		}
	}
	tb.Cleanup(stop)
	return stop
}

// waitAll waits until every projection has applied position.
func waitAll(tb testing.TB, m *Manager, position uint64) {
	tb.Helper()
	for _, r := range m.runners {
		if err := m.WaitFor(tb.Context(), r.p.Name(), position); err != nil {
			tb.Fatalf("wait for %s to reach %d: %v", r.p.Name(), position, err)
		}
	}
}

// waitStatus waits, woken by the projection's notifications, until pred
// holds for its status, and returns it.
func waitStatus(tb testing.TB, m *Manager, name string, pred func(Status) bool) Status {
	tb.Helper()
	r := m.runner(name)
	ctx, cancel := context.WithTimeout(tb.Context(), time.Minute) // a bound, not a pace
	defer cancel()
	for {
		r.mu.Lock()
		wake := r.notify
		r.mu.Unlock()
		st := status(tb, m, name)
		if pred(st) {
			return st
		}
		select {
		case <-wake:
		case <-ctx.Done():
			tb.Fatalf("%s never reached the expected status; last %+v", name, st)
		}
	}
}

func status(tb testing.TB, m *Manager, name string) Status {
	tb.Helper()
	all, err := m.Status(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	for _, s := range all {
		if s.Name == name {
			return s
		}
	}
	tb.Fatalf("no status for %s", name)
	return Status{}
}

// rebuilt reports whether a rebuild has finished.
func rebuilt(s Status) bool { return s.State != StateRebuilding }

// live is true once a projection has caught up. A projection reports
// catching-up until its runner has compared the checkpoint with the head,
// also when the checkpoint it loaded at start is already there.
func live(s Status) bool { return s.State == StateLive }

// readModels returns the JSON of every read model (the order list read
// page by page), as the API would encode them, and checks that they
// reflect the same position.
func readModels(tb testing.TB, m *Manager) string {
	tb.Helper()
	items, p1, err := m.Stock(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	report, p2, err := m.Analytics(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	orders := []orderlist.Summary{}
	f := orderlist.Filter{Limit: 1000}
	for {
		page, p3, err := m.Orders(tb.Context(), f)
		if err != nil {
			tb.Fatal(err)
		}
		if p3 != p1 {
			tb.Fatalf("stock at %d, order list at %d", p1, p3)
		}
		if len(page.Orders) == 0 {
			break
		}
		orders, f.After = append(orders, page.Orders...), page.Next
	}
	if p1 != p2 {
		tb.Fatalf("stock at %d, analytics at %d", p1, p2)
	}
	b, err := json.MarshalIndent(map[string]any{"position": p1, "stock": map[string]any{"items": items}, "analytics": report,
		"orders": orders}, "", " ")
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// mustFail checks that err matches target.
func mustFail(tb testing.TB, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("error %v, want %v", err, target)
	}
}

// lastProjection is the name of the projection an offline rebuild does
// last.
func lastProjection() string {
	all := builtin(Options{})
	return all[len(all)-1].Name()
}
