package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

// Harness tells Run how to get stores of the backend under test.
type Harness struct {
	// New prepares a store location for one test and returns a function
	// that opens it. The suite may call open again after closing the store
	// it returned, and expects to find everything it wrote. New registers
	// its own cleanup with t.Cleanup.
	New func(t *testing.T) (open func() (eventstore.Store, error))

	// DensePositions: every location starts empty and positions are
	// consecutive integers from 1 (the embedded store). Without it positions
	// need only increase, and $all may hold other writers' events.
	DensePositions bool

	// GlobalEventIDs: an event ID recorded in one stream is refused in any
	// other (ErrDuplicateEventID). KurrentDB only deduplicates per stream.
	GlobalEventIDs bool

	// SparsePositions: consecutive positions differ by more than one, and
	// a read or subscription after a number between two of them fails with
	// ErrInvalidPosition (KurrentDB's log offsets; the Sparse wrapper).
	SparsePositions bool

	// StreamPrefix starts the name of every stream the suite writes, for a
	// store whose view shows only some prefixes (as serve configures the
	// KurrentDB adapter). Empty for a store that shows every stream.
	StreamPrefix string

	// WriteForeign, if set, appends n events of another application to the
	// log under s, in streams of ForeignStreamPrefix that s must not show.
	// The suite then checks that ReadAll, Head and Subscribe all leave them
	// out.
	WriteForeign func(ctx context.Context, s eventstore.Store, n int) error
}

// Timeout bounds every wait of the suite: waits end on their condition,
// this only stops a broken backend from hanging the run.
const Timeout = 60 * time.Second

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"ExpectedVersion", testExpectedVersion},
		{"Versions", testVersions},
		{"Atomic", testAtomic},
		{"InvalidArgument", testInvalidArgument},
		{"Idempotent", testIdempotent},
		{"ReadStream", testReadStream},
		{"ReadAllOrder", testReadAllOrder},
		{"ConcurrentExactWriters", testConcurrentExactWriters},
		{"NoGapsUnderConcurrentWriters", testNoGaps},
		{"SubscribeCatchUpThenLive", testCatchUpThenLive},
		{"SubscribeAfterIsExclusive", testSubscribeExclusive},
		{"SubscribeCancel", testSubscribeCancel},
		{"SubscribeHandlerError", testSubscribeHandlerError},
		{"Reopen", testReopen},
		{"InvalidPosition", testInvalidPosition},
		{"OneView", testOneView},
		{"ReadFiltered", testReadFiltered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, h)
		})
	}
}

// env is one test's store and unique stream prefix.
type env struct {
	t      *testing.T
	store  eventstore.Store
	open   func() (eventstore.Store, error)
	prefix string
}

func newEnv(t *testing.T, h Harness) *env {
	t.Helper()
	open := h.New(t)
	s, err := open()
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e := &env{t: t, store: s, open: open, prefix: h.StreamPrefix + "st" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12] + "-"}
	t.Cleanup(func() {
		if err := e.store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return e
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(e.t.Context(), Timeout)
	e.t.Cleanup(cancel)
	return ctx
}

func (e *env) stream(name string) string { return e.prefix + name }

func (e *env) ours(ev eventstore.RecordedEvent) bool { return strings.HasPrefix(ev.Stream, e.prefix) }

// event makes an event with a fresh ID and a payload naming n.
func event(typ string, n int) eventstore.EventData {
	data, _ := json.Marshal(map[string]int{"n": n})
	return eventstore.EventData{ID: uuid.New(), Type: typ, Data: data, Metadata: json.RawMessage(`{"correlation_id":"c"}`)}
}

func events(n int) []eventstore.EventData {
	out := make([]eventstore.EventData, n)
	for i := range out {
		out[i] = event("Happened", i)
	}
	return out
}

func (e *env) mustAppend(stream string, expected eventstore.ExpectedVersion, evs ...eventstore.EventData) eventstore.AppendResult {
	e.t.Helper()
	res, err := e.store.Append(e.ctx(), stream, expected, evs...)
	if err != nil {
		e.t.Fatalf("append %d events to %s (expected %s): %v", len(evs), stream, expected, err)
	}
	return res
}

func (e *env) mustRead(stream string) []eventstore.RecordedEvent {
	e.t.Helper()
	got, err := e.store.ReadStream(e.ctx(), stream, 0, 0)
	if err != nil {
		e.t.Fatalf("read %s: %v", stream, err)
	}
	return got
}

// readOurs reads $all after a position and keeps this test's events.
func (e *env) readOurs(after uint64) []eventstore.RecordedEvent {
	e.t.Helper()
	var out []eventstore.RecordedEvent
	for {
		page, err := e.store.ReadAll(e.ctx(), after, 500)
		if err != nil {
			e.t.Fatalf("read $all after %d: %v", after, err)
		}
		if len(page) == 0 {
			return out
		}
		for _, ev := range page {
			if e.ours(ev) {
				out = append(out, ev)
			}
		}
		after = page[len(page)-1].Position
	}
}

// subscribeN subscribes after a position until it has seen n of this
// test's events, and returns them. It fails on a position that does not
// increase. Safe to call from any goroutine (it does not touch e.t).
func (e *env) subscribeN(ctx context.Context, after uint64, n int) ([]eventstore.RecordedEvent, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got []eventstore.RecordedEvent
	last := after
	done := errors.New("done")
	err := e.store.Subscribe(ctx, after, func(batch []eventstore.RecordedEvent) error {
		for _, ev := range batch {
			if ev.Position <= last {
				return fmt.Errorf("position %d delivered after %d", ev.Position, last)
			}
			last = ev.Position
			if e.ours(ev) {
				got = append(got, ev)
			}
		}
		if len(got) >= n {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		return got, fmt.Errorf("subscribe after %d: got %d of %d events: %w", after, len(got), n, err)
	}
	return got, nil
}

// collect is subscribeN for the test's own goroutine: it fails the test.
func (e *env) collect(ctx context.Context, after uint64, n int) []eventstore.RecordedEvent {
	e.t.Helper()
	got, err := e.subscribeN(ctx, after, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// collectAsync runs subscribeN in a goroutine; wait returns its result on
// the test's goroutine, failing the test on error.
func (e *env) collectAsync(ctx context.Context, after uint64, n int) (wait func() []eventstore.RecordedEvent) {
	type result struct {
		events []eventstore.RecordedEvent
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		evs, err := e.subscribeN(ctx, after, n)
		ch <- result{evs, err}
	}()
	return func() []eventstore.RecordedEvent {
		e.t.Helper()
		r := <-ch
		if r.err != nil {
			e.t.Fatal(r.err)
		}
		return r.events
	}
}

func (e *env) head() uint64 {
	e.t.Helper()
	h, err := e.store.Head(e.ctx())
	if err != nil {
		e.t.Fatalf("head: %v", err)
	}
	return h
}

func wantVersionError(t *testing.T, err error, actual int64) {
	t.Helper()
	var ve *eventstore.VersionError
	if !errors.As(err, &ve) || !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("err = %v, want *VersionError matching ErrWrongExpectedVersion", err)
	}
	if ve.Actual != actual {
		t.Fatalf("VersionError.Actual = %d, want %d (%v)", ve.Actual, actual, err)
	}
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
