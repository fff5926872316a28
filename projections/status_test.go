package projections

import (
	"strings"
	"testing"

	"github.com/orderstore/orderstore/domain"
)

// TestStatus_StoreDown: while the store does not answer, Status still
// answers with the projections' positions, the head and lag last seen, and
// the store's state; it does not fail.
func TestStatus_StoreDown(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		m, err := Open(dir, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := m.Close(); err != nil {
				t.Error(err)
			}
		})
		// Not run: the projections stay at 0, two events behind.
		placeOrder(t, s, "a", domain.Line{SKU: "S", Quantity: 1, UnitPrice: 1})
		head := placeOrder(t, s, "b", domain.Line{SKU: "S", Quantity: 1, UnitPrice: 1})
		up, err := m.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range up {
			if st.Store != StoreAvailable || st.StoreError != "" || st.Head != head || st.Lag != 2 {
				t.Fatalf("store up: %+v; want available, head %d, lag 2", st, head)
			}
		}

		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		down, err := m.Status(t.Context())
		if err != nil {
			t.Fatalf("Status with the store down: %v", err)
		}
		if len(down) != len(up) {
			t.Fatalf("%d statuses, want %d", len(down), len(up))
		}
		for i, st := range down {
			if st.Store != StoreUnavailable || st.StoreError == "" {
				t.Fatalf("store down: %+v; want unavailable with the error", st)
			}
			if st.Name != up[i].Name || st.Position != up[i].Position || st.Head != head || st.Lag != 2 || st.LagSeconds < up[i].LagSeconds {
				t.Fatalf("store down: %+v; want the last known head %d and lag 2 of %+v", st, head, up[i])
			}
		}
	})
}

// TestReplay_ErrorNamesEachOperationOnce: a failed read of $all during a
// replay says so once: the store names its operation, replay its own.
func TestReplay_ErrorNamesEachOperationOnce(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		s := openStore(t, t.TempDir())
		head := placeOrder(t, s, "a", domain.Line{SKU: "S", Quantity: 1, UnitPrice: 1})
		// The test computes a number beyond the head to make the read
		// fail; code never may.
		err := replay(t.Context(), s, head+1, func(string) bool { return true }, false, func(*batch) error { return nil })
		if err == nil {
			t.Fatal("replay after a position beyond the head succeeded")
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "replay $all: read $all") || strings.Count(msg, "read $all") != 1 {
			t.Fatalf("replay error %q: want %q once, after %q", msg, "read $all", "replay $all: ")
		}
	})
}
