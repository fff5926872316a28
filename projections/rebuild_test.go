package projections

import (
	"fmt"
	"strings"
	"testing"

	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/orderlist"
	"github.com/orderstore/orderstore/projections/stock"
)

// diff reports the first line where two read-model dumps differ.
func diff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d: got %s, want %s", i+1, g[i], w[i])
		}
	}
	return "lengths differ"
}

// offline rebuilds every read model of store into a fresh directory and
// returns their dump.
func offline(t *testing.T, m *Manager) string {
	t.Helper()
	fresh := t.TempDir()
	var last Progress
	calls := 0
	if err := RebuildOffline(t.Context(), fresh, m.store, Options{}, nil, func(p Progress) { last = p; calls++ }); err != nil {
		t.Fatal(err)
	}
	head, _ := m.store.Head(t.Context())
	if n := countEvents(t, m.store); calls == 0 || last.Done != n || last.Total != n || last.Projection != lastProjection() {
		t.Errorf("last progress = %+v after %d calls, want %d done of %d", last, calls, n, n)
	}
	rm, err := Open(fresh, m.store, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := rm.Close(); err != nil {
			t.Error(err)
		}
	}()
	for _, r := range rm.runners {
		if cp := r.checkpoint(); cp.Generation != 2 || cp.Position != head {
			t.Errorf("%s after offline rebuild: %+v", r.p.Name(), cp)
		}
	}
	return readModels(t, rm)
}

func TestManager_RebuildEqualsLive(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, _ := start(t, dir, s, Options{})
		if err := writeConcurrently(t.Context(), s, 1, 16, 12_000, nil); err != nil {
			t.Fatal(err)
		}
		head, _ := s.Head(t.Context())
		if n := countEvents(t, s); n < 10_000 {
			t.Fatalf("only %d events written", n)
		}
		waitAll(t, m, head)
		live := readModels(t, m)
		report, _, _ := m.Analytics(t.Context())
		items, _, _ := m.Stock(t.Context())
		t.Logf("%d events: %d SKUs, %+v orders, %d currencies, %d days",
			head, len(items), report.OrdersByStatus, len(report.Revenue), len(report.Daily))
		for cur, r := range report.Revenue {
			if r.Gross == 0 || r.Refunds == 0 {
				t.Errorf("%s: a workload without payments or refunds proves little: %+v", cur, r)
			}
		}

		if err := m.Rebuild(all); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{stock.Name, analytics.Name, orderlist.Name} {
			st := waitStatus(t, m, name, rebuilt)
			if st.State != StateLive || st.Position != head || st.Rebuild != nil || st.LastError != "" {
				t.Errorf("%s after rebuild: %+v", name, st)
			}
			if gen := m.runner(name).checkpoint().Generation; gen != 2 {
				t.Errorf("%s generation %d after rebuild, want 2", name, gen)
			}
		}
		wantIndexes(t, m)
		if got := readModels(t, m); got != live {
			t.Errorf("online rebuild differs from live: %s", diff(got, live))
		}
		if got := offline(t, m); got != live {
			t.Errorf("offline rebuild differs from live: %s", diff(got, live))
		}
	})
}

func TestManager_OnlineRebuildUnderWrites(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, _ := start(t, dir, s, Options{})
		stop := make(chan struct{})
		written := make(chan error, 1)
		go func() { written <- writeConcurrently(t.Context(), s, 2, 8, 4_000, stop) }()

		// Rebuild while the writers go on, and let them write after the swap.
		if err := m.WaitFor(t.Context(), stock.Name, nthEvent(t, s, 0, 2_000)); err != nil {
			t.Fatal(err)
		}
		if err := m.Rebuild(all); err != nil {
			t.Fatal(err)
		}
		var swappedAt uint64
		for _, name := range []string{stock.Name, analytics.Name, orderlist.Name} {
			st := waitStatus(t, m, name, rebuilt)
			swappedAt = max(swappedAt, st.Position)
		}
		if err := m.WaitFor(t.Context(), stock.Name, nthEvent(t, s, swappedAt, 500)); err != nil {
			t.Fatal(err)
		}
		close(stop)
		if err := <-written; err != nil {
			t.Fatal(err)
		}
		head, _ := s.Head(t.Context())
		waitAll(t, m, head)
		for _, name := range []string{stock.Name, analytics.Name, orderlist.Name} {
			if st := waitStatus(t, m, name, live); st.LastError != "" || m.runner(name).checkpoint().Generation != 2 {
				t.Errorf("%s: %+v", name, st)
			}
		}
		t.Logf("swapped at position %d, head %d", swappedAt, head)
		live := readModels(t, m)
		if got := offline(t, m); got != live {
			t.Errorf("fresh offline rebuild differs from the online-rebuilt live read models: %s", diff(got, live))
		}
	})
}

// wantIndexes checks that the live tables of every projection have the
// secondary indexes their Indexes names, which a rebuild creates last.
func wantIndexes(t *testing.T, m *Manager) {
	t.Helper()
	for _, r := range m.runners {
		prefix := r.checkpoint().prefix()
		for _, stmt := range strings.Split(r.p.Indexes(prefix), ";") {
			fields := strings.Fields(stmt)
			if len(fields) < 3 {
				continue
			}
			name := fields[2] // CREATE INDEX name ON …
			var n int
			if err := m.db.read.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?`, name).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("%s: index %s missing after the rebuild", r.p.Name(), name)
			}
		}
	}
}
