package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
)

// openHolding opens a store whose commits would wait an hour for appends
// announced with Expect: a test that ends at all shows they did not.
func openHolding(t *testing.T) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(t.TempDir(), embedded.Options{CommitHold: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func holdEvent() eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: "Held", Data: []byte(`{}`)}
}

type appended struct {
	res eventstore.AppendResult
	err error
}

// appendAsync appends one event to stream and delivers the outcome.
func appendAsync(ctx context.Context, s eventstore.Store, stream string) <-chan appended {
	out := make(chan appended, 1)
	go func() {
		res, err := s.Append(ctx, stream, eventstore.NoStream, holdEvent())
		out <- appended{res, err}
	}()
	return out
}

// waitUntil polls cond until it holds, or fails the test after a generous
// bound.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func result(t *testing.T, what string, ch <-chan appended) eventstore.AppendResult {
	t.Helper()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatalf("%s: %v", what, a.err)
		}
		return a.res
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: no answer in 30 s: the commit is held", what)
	}
	return eventstore.AppendResult{}
}

// TestHold_WaitsForAnnouncedAppend: while an append is announced, the
// writer holds the commit of another, and commits both together once the
// announced one arrives.
func TestHold_WaitsForAnnouncedAppend(t *testing.T) {
	s := openHolding(t)
	ctx, done := s.Expect(t.Context())
	defer done()
	commits := s.Stats().Commits.Load()
	first := appendAsync(t.Context(), s, "order-first")
	waitUntil(t, "the writer to hold the first append's commit", s.Holding)
	second := appendAsync(ctx, s, "order-second")
	a, b := result(t, "first append", first), result(t, "announced append", second)
	if n := s.Stats().Commits.Load() - commits; n != 1 {
		t.Errorf("%d commits for the two appends, want 1", n)
	}
	if a.Position != 1 || b.Position != 2 {
		t.Errorf("positions %d and %d, want 1 and 2 (the held append first)", a.Position, b.Position)
	}
	st := s.Stats()
	if st.HoldNanos.Load() == 0 || st.ApplyNanos.Load() == 0 || st.CommitNanos.Load() == 0 {
		t.Errorf("writer time after a held commit: hold %d, apply %d, commit %d ns, want all > 0",
			st.HoldNanos.Load(), st.ApplyNanos.Load(), st.CommitNanos.Load())
	}
	if n := s.Expected(); n != 0 {
		t.Errorf("%d appends still expected after the announced one arrived", n)
	}
	done() // after the append: changes nothing
	if n := s.Expected(); n != 0 {
		t.Errorf("done after the append: %d expected, want 0", n)
	}
}

// TestHold_DoneReleases: an announcement withdrawn without an append
// releases a held commit at once.
func TestHold_DoneReleases(t *testing.T) {
	s := openHolding(t)
	_, done := s.Expect(t.Context())
	first := appendAsync(t.Context(), s, "order-first")
	waitUntil(t, "the writer to hold the commit", s.Holding)
	done()
	done() // twice: still one withdrawal
	result(t, "held append after done", first)
	if n := s.Expected(); n != 0 {
		t.Errorf("%d expected after done, want 0", n)
	}
}

// TestHold_WaitReleases: a command that waits (for a lock) stops
// counting, which releases a commit held for it; resumed, it counts again,
// and its append or done ends it once, paused or not.
func TestHold_WaitReleases(t *testing.T) {
	s := openHolding(t)
	ctx, done := s.Expect(t.Context())
	defer done()
	first := appendAsync(t.Context(), s, "order-first")
	waitUntil(t, "the writer to hold the commit", s.Holding)
	resume := s.Wait(ctx)
	s.Wait(ctx)() // a second wait on a paused command changes nothing
	result(t, "held append while the announced command waits", first)
	if n := s.Expected(); n != 0 {
		t.Errorf("%d expected while the only announced command waits, want 0", n)
	}
	resume()
	resume() // twice: counted once
	if n := s.Expected(); n != 1 {
		t.Fatalf("%d expected after resume, want 1", n)
	}
	second := appendAsync(t.Context(), s, "order-second")
	waitUntil(t, "the writer to hold for the resumed command", s.Holding)
	result(t, "the resumed command's append", appendAsync(ctx, s, "order-third"))
	result(t, "the append held for it", second)
	if n := s.Expected(); n != 0 {
		t.Errorf("%d expected after the append, want 0", n)
	}

	// Ended while paused: the resume that follows counts nothing.
	ctx2, done2 := s.Expect(t.Context())
	resume2 := s.Wait(ctx2)
	done2()
	resume2()
	if n := s.Expected(); n != 0 {
		t.Errorf("%d expected after done while waiting and resume, want 0", n)
	}
	s.Wait(t.Context())() // nothing announced: a no-op
}

// TestHold_UnannouncedNeverHeld: with nothing announced, appends commit
// as they come, one writer after another.
func TestHold_UnannouncedNeverHeld(t *testing.T) {
	s := openHolding(t)
	for i := range 20 {
		result(t, "append", appendAsync(t.Context(), s, "order-"+uuid.NewString()))
		if s.Holding() {
			t.Fatalf("append %d: the writer holds with nothing announced", i)
		}
	}
}

// TestHold_Off: a negative CommitHold never holds, announced or not.
func TestHold_Off(t *testing.T) {
	s, err := embedded.Open(t.TempDir(), embedded.Options{CommitHold: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	_, done := s.Expect(t.Context())
	defer done()
	result(t, "append beside an announcement that never comes", appendAsync(t.Context(), s, "order-x"))
}

// TestHold_Close: Close ends a hold at once, and the held append is
// committed, not lost.
func TestHold_Close(t *testing.T) {
	s, err := embedded.Open(t.TempDir(), embedded.Options{CommitHold: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_, done := s.Expect(t.Context())
	defer done()
	first := appendAsync(t.Context(), s, "order-first")
	waitUntil(t, "the writer to hold the commit", s.Holding)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return in 30 s: the writer holds on")
	}
	if res := result(t, "held append", first); res.Position != 1 {
		t.Errorf("held append at position %d, want 1", res.Position)
	}
}

// TestHold_NestedExpect: an announcement within one announces nothing
// more, so the one append ends both.
func TestHold_NestedExpect(t *testing.T) {
	s := openHolding(t)
	outer, outerDone := s.Expect(t.Context())
	defer outerDone()
	inner, innerDone := s.Expect(outer)
	defer innerDone()
	if n := s.Expected(); n != 1 {
		t.Fatalf("%d expected after a nested announcement, want 1", n)
	}
	result(t, "announced append", appendAsync(inner, s, "order-nested"))
	if n := s.Expected(); n != 0 {
		t.Errorf("%d expected after the append, want 0", n)
	}
	// A context whose announcement has arrived announces anew.
	_, again := s.Expect(inner)
	if n := s.Expected(); n != 1 {
		t.Errorf("%d expected after announcing again, want 1", n)
	}
	again()
}
