package projections

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/stock"
)

// wantOtherStore waits until every projection has failed because its
// checkpoint belongs to another store, and checks what the status says.
func wantOtherStore(t *testing.T, m *Manager, checkpoint uint64, reason string) {
	t.Helper()
	for _, name := range []string{stock.Name, analytics.Name} {
		st := waitStatus(t, m, name, func(s Status) bool { return s.State == StateFailed })
		if st.Position != checkpoint || st.Lag != 0 || st.FailedPosition != 0 ||
			!strings.Contains(st.LastError, "another event store") || !strings.Contains(st.LastError, reason) ||
			!strings.Contains(st.LastError, "rebuild") {
			t.Errorf("%s status = %+v, want failed at checkpoint %d: another store, %s", name, st, checkpoint, reason)
		}
		// Any position past the checkpoint (a bound for the wait, given to
		// no store) is out of reach.
		mustFail(t, m.WaitFor(t.Context(), name, checkpoint+1), ErrFailed)
	}
}

// rebuildOnto rebuilds every projection of m and checks that they are live
// and equal a fresh rebuild from m's store.
func rebuildOnto(t *testing.T, m *Manager) {
	t.Helper()
	if err := m.Rebuild(all); err != nil {
		t.Fatal(err)
	}
	head, err := m.store.Head(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{stock.Name, analytics.Name} {
		st := waitStatus(t, m, name, func(s Status) bool { return rebuilt(s) && s.State != StateFailed })
		if st.State != StateLive || st.Position != head || st.LastError != "" {
			t.Errorf("%s after rebuild = %+v, want live at %d", name, st, head)
		}
	}
	if got, want := readModels(t, m), offline(t, m); got != want {
		t.Errorf("read models after the rebuild differ from a fresh one: %s", diff(got, want))
	}
}

// TestManager_OtherStore points read models built from one store at
// another: they must fail with the reason, not skip the new store's events
// while showing live, and a rebuild must bring them back.
func TestManager_OtherStore(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		rm := t.TempDir()
		a := openStore(t, t.TempDir())
		m, stop := start(t, rm, a, Options{})
		receive(t, a, "A", 5)
		head := placeOrder(t, a, "o1", domain.Line{SKU: "A", Quantity: 1, UnitPrice: 100})
		waitAll(t, m, head)
		stop()

		// Another store, longer than the first: its head does not give
		// the change away, its first event does.
		b := openStore(t, t.TempDir())
		for range 5 {
			receive(t, b, "B", 1)
		}
		m, _ = start(t, rm, b, Options{})
		wantOtherStore(t, m, head, "first event")
		if st := status(t, m, stock.Name); st.Head == head {
			t.Errorf("status shows the old head: %+v", st)
		}
		rebuildOnto(t, m)
		if item, _, err := m.StockItem(t.Context(), "B"); err != nil || item.Received != 5 {
			t.Errorf("stock of B after the rebuild = %+v, %v", item, err)
		}
	})
}

// TestManager_CheckpointBeyondHead points read models at a copy of their
// store taken earlier: same first event, but the checkpoint is beyond the
// copy's head.
func TestManager_CheckpointBeyondHead(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		rm, dirA, dirB := t.TempDir(), t.TempDir(), t.TempDir()
		a := openStore(t, dirA)
		receive(t, a, "A", 5)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		copyDir(t, dirA, dirB)

		a = openStore(t, dirA)
		m, stop := start(t, rm, a, Options{})
		head := placeOrder(t, a, "o1", domain.Line{SKU: "A", Quantity: 1, UnitPrice: 100})
		waitAll(t, m, head)
		stop()

		b := openStore(t, dirB)
		m, _ = start(t, rm, b, Options{})
		wantOtherStore(t, m, head, "beyond the store's head")
		rebuildOnto(t, m)
	})
}

// TestManager_RecordsStoreOfOldCheckpoints opens read models of layout 1,
// whose checkpoints name no store: the first start records the store's
// identity, and a later change of store is caught.
func TestManager_RecordsStoreOfOldCheckpoints(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		rm := t.TempDir()
		s := openStore(t, t.TempDir())
		m, stop := start(t, rm, s, Options{})
		first := receive(t, s, "A", 5)
		head := placeOrder(t, s, "o1", domain.Line{SKU: "A", Quantity: 1, UnitPrice: 100})
		waitAll(t, m, head)
		stop()
		downgrade(t, rm)

		m, stop = start(t, rm, s, Options{})
		head = receive(t, s, "A", 1)
		waitAll(t, m, head)
		for _, r := range m.runners {
			cp := r.checkpoint()
			if cp.Store == nil || cp.Store.Position != first || cp.Store.Stream != domain.StockStream("A") || cp.Store.Version != 0 {
				t.Errorf("%s: checkpoint %+v, want the store's first event (stock-A, position %d) recorded", r.p.Name(), cp, first)
			}
		}
		stop()

		other := openStore(t, t.TempDir())
		receive(t, other, "B", 1)
		m, _ = start(t, rm, other, Options{})
		wantOtherStore(t, m, head, "first event")
	})
}

// downgrade turns the read models in dir into layout 1: checkpoints
// without a store identity.
func downgrade(t *testing.T, dir string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck // read-only use after Exec
	if _, err := db.Exec(`ALTER TABLE checkpoints DROP COLUMN store; PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the files of a closed store's directory.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
