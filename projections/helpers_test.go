package projections

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/orderstore/orderstore/eventstore/embedded"
)

// openStore opens an embedded store in dir and closes it at cleanup.
func openStore(tb testing.TB, dir string) *embedded.Store {
	tb.Helper()
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// start opens a Manager on dir and runs it until the returned stop is
// called or the test ends; stop closes it and checks Run's result.
func start(tb testing.TB, dir string, store *embedded.Store, opts Options) (m *Manager, stop func()) {
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
		case <-tb.Context().Done():
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

// readModels returns the JSON of both read models, as the API would
// encode them, and checks that they reflect the same position.
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
	if p1 != p2 {
		tb.Fatalf("stock at %d, analytics at %d", p1, p2)
	}
	b, err := json.MarshalIndent(map[string]any{"position": p1, "stock": map[string]any{"items": items}, "analytics": report}, "", " ")
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
