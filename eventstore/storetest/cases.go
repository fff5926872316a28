package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

func testExpectedVersion(t *testing.T, h Harness) {
	e := newEnv(t, h)
	// Stream states: none, one event (version 0), two events (version 1).
	states := []struct {
		name   string
		events int
		actual int64
	}{{"none", 0, eventstore.NoVersion}, {"one", 1, 0}, {"two", 2, 1}}
	conds := []eventstore.ExpectedVersion{eventstore.Any, eventstore.NoStream, eventstore.StreamExists, eventstore.Exact(0), eventstore.Exact(1), eventstore.Exact(5)}
	for _, st := range states {
		for _, cond := range conds {
			stream := e.stream(fmt.Sprintf("ev-%s-%s", st.name, uuid.NewString()[:8]))
			if st.events > 0 {
				e.mustAppend(stream, eventstore.NoStream, events(st.events)...)
			}
			res, err := e.store.Append(e.ctx(), stream, cond, event("Next", 0))
			if cond.Matches(st.actual) {
				if err != nil {
					t.Errorf("stream %s, expected %s: %v", st.name, cond, err)
					continue
				}
				if res.Version != st.actual+1 {
					t.Errorf("stream %s, expected %s: version %d, want %d", st.name, cond, res.Version, st.actual+1)
				}
				continue
			}
			var ve *eventstore.VersionError
			if !errors.As(err, &ve) || !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				t.Errorf("stream %s, expected %s: err = %v, want *VersionError", st.name, cond, err)
				continue
			}
			if ve.Actual != st.actual || ve.Expected != cond {
				t.Errorf("stream %s, expected %s: VersionError{Expected: %s, Actual: %d}, want actual %d",
					st.name, cond, ve.Expected, ve.Actual, st.actual)
			}
			if got := len(e.readIfAny(stream)); got != st.events {
				t.Errorf("stream %s, expected %s: refused append left %d events, want %d", st.name, cond, got, st.events)
			}
		}
	}
}

func (e *env) readIfAny(stream string) []eventstore.RecordedEvent {
	e.t.Helper()
	got, err := e.store.ReadStream(e.ctx(), stream, 0, 0)
	if err != nil && !errors.Is(err, eventstore.ErrNotFound) {
		e.t.Fatalf("read %s: %v", stream, err)
	}
	return got
}

func testVersions(t *testing.T, h Harness) {
	e := newEnv(t, h)
	stream := e.stream("versions")
	r1 := e.mustAppend(stream, eventstore.NoStream, events(1)...)
	r2 := e.mustAppend(stream, eventstore.Exact(r1.Version), events(3)...)
	if r1.Version != 0 || r2.Version != 3 {
		t.Fatalf("versions after appends of 1 and 3 events: %d, %d; want 0, 3", r1.Version, r2.Version)
	}
	if r2.Position <= r1.Position {
		t.Fatalf("positions %d then %d: not increasing", r1.Position, r2.Position)
	}
	got := e.mustRead(stream)
	if len(got) != 4 {
		t.Fatalf("read %d events, want 4", len(got))
	}
	for i, ev := range got {
		if ev.Version != int64(i) || ev.Stream != stream {
			t.Fatalf("event %d: stream %q version %d", i, ev.Stream, ev.Version)
		}
		if i > 0 && ev.Position <= got[i-1].Position {
			t.Fatalf("event %d: position %d after %d", i, ev.Position, got[i-1].Position)
		}
		if ev.RecordedAt.IsZero() {
			t.Fatalf("event %d: no recorded time", i)
		}
	}
	if got[0].Position != r1.Position || got[3].Position != r2.Position {
		t.Fatalf("append results (%d, %d) differ from recorded positions (%d, %d)",
			r1.Position, r2.Position, got[0].Position, got[3].Position)
	}
	if h.DensePositions && (got[0].Position != 1 || got[3].Position != 4) {
		t.Fatalf("dense positions: got %d..%d, want 1..4", got[0].Position, got[3].Position)
	}
}

func testAtomic(t *testing.T, h Harness) {
	e := newEnv(t, h)
	stream := e.stream("atomic")
	evs := events(5)
	e.mustAppend(stream, eventstore.NoStream, evs...)
	got := e.mustRead(stream)
	if len(got) != 5 {
		t.Fatalf("read %d events, want 5", len(got))
	}
	for i, ev := range got {
		if ev.ID != evs[i].ID || ev.Type != evs[i].Type || string(ev.Data) != string(evs[i].Data) {
			t.Fatalf("event %d: got %s %s %s, want %s %s %s", i, ev.ID, ev.Type, ev.Data, evs[i].ID, evs[i].Type, evs[i].Data)
		}
		if !jsonEqual(ev.Metadata, evs[i].Metadata) {
			t.Fatalf("event %d: metadata %s, want %s", i, ev.Metadata, evs[i].Metadata)
		}
		if i > 0 && ev.Position <= got[i-1].Position {
			t.Fatalf("positions not increasing within one append")
		}
	}
	// A refused multi-event append writes none of its events.
	_, err := e.store.Append(e.ctx(), stream, eventstore.Exact(1), events(3)...)
	wantVersionError(t, err, 4)
	if n := len(e.mustRead(stream)); n != 5 {
		t.Fatalf("after a refused append the stream has %d events, want 5", n)
	}
}

func testInvalidArgument(t *testing.T, h Harness) {
	e := newEnv(t, h)
	stream := e.stream("invalid")
	good := event("Good", 0)
	cases := map[string][]eventstore.EventData{
		"zero ID":      {good, {Type: "T", Data: []byte(`{}`)}},
		"no type":      {good, {ID: uuid.New(), Data: []byte(`{}`)}},
		"bad data":     {good, {ID: uuid.New(), Type: "T", Data: []byte(`{"a":`)}},
		"bad metadata": {good, {ID: uuid.New(), Type: "T", Data: []byte(`{}`), Metadata: []byte(`nope`)}},
		"no events":    {},
	}
	for name, evs := range cases {
		_, err := e.store.Append(e.ctx(), stream, eventstore.Any, evs...)
		if !errors.Is(err, eventstore.ErrInvalidArgument) {
			t.Errorf("%s: err = %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := e.store.Append(e.ctx(), "", eventstore.Any, good); !errors.Is(err, eventstore.ErrInvalidArgument) {
		t.Errorf("empty stream name: err = %v, want ErrInvalidArgument", err)
	}
	if got := e.readIfAny(stream); len(got) != 0 {
		t.Fatalf("invalid appends wrote %d events", len(got))
	}
}

func testIdempotent(t *testing.T, h Harness) {
	e := newEnv(t, h)
	stream := e.stream("idem")
	first := events(2)
	r1 := e.mustAppend(stream, eventstore.NoStream, first...)
	// The same events at the same place: success, original result, no write.
	again := e.mustAppend(stream, eventstore.NoStream, first...)
	if again != r1 {
		t.Fatalf("repeated append returned %+v, want the original %+v", again, r1)
	}
	second := events(2)
	r2 := e.mustAppend(stream, eventstore.Exact(r1.Version), second...)
	again = e.mustAppend(stream, eventstore.Exact(r1.Version), second...)
	if again != r2 {
		t.Fatalf("repeated exact append returned %+v, want the original %+v", again, r2)
	}
	if n := len(e.mustRead(stream)); n != 4 {
		t.Fatalf("stream has %d events after repeats, want 4", n)
	}
	if n := len(e.readOurs(0)); h.DensePositions && n != 4 {
		t.Fatalf("$all has %d events after repeats, want 4", n)
	}
	// The same IDs claimed at another place of the stream are refused.
	if _, err := e.store.Append(e.ctx(), stream, eventstore.Exact(0), first...); !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
		t.Fatalf("re-appending recorded events after version 0: err = %v, want ErrWrongExpectedVersion", err)
	}
	if _, err := e.store.Append(e.ctx(), stream, eventstore.Any, first[1], first[0]); err == nil {
		t.Fatalf("re-appending recorded events in another order succeeded")
	}
	if n := len(e.mustRead(stream)); n != 4 {
		t.Fatalf("stream has %d events after refused repeats, want 4", n)
	}
	// Any and StreamExists recognise a retry of an append without an exact
	// version wherever it landed, also after later appends.
	third := events(2)
	r3 := e.mustAppend(stream, eventstore.Any, third...)
	e.mustAppend(stream, eventstore.Any, events(1)...)
	if again := e.mustAppend(stream, eventstore.Any, third...); again != r3 {
		t.Fatalf("repeat with Any returned %+v, want the original %+v", again, r3)
	}
	if again := e.mustAppend(stream, eventstore.StreamExists, first...); again != r1 {
		t.Fatalf("repeat with StreamExists returned %+v, want the original %+v", again, r1)
	}
	if h.GlobalEventIDs {
		_, err := e.store.Append(e.ctx(), e.stream("other"), eventstore.Any, first[0])
		if !errors.Is(err, eventstore.ErrDuplicateEventID) {
			t.Fatalf("an ID recorded in another stream: err = %v, want ErrDuplicateEventID", err)
		}
	}
}

func testReadStream(t *testing.T, h Harness) {
	e := newEnv(t, h)
	_, err := e.store.ReadStream(e.ctx(), e.stream("missing"), 0, 0)
	if !errors.Is(err, eventstore.ErrNotFound) {
		t.Fatalf("read a missing stream: err = %v, want ErrNotFound", err)
	}
	stream := e.stream("read")
	e.mustAppend(stream, eventstore.NoStream, events(10)...)
	got, err := e.store.ReadStream(e.ctx(), stream, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Version != 4 || got[2].Version != 6 {
		t.Fatalf("read from 4 limit 3: %d events, versions %v", len(got), versions(got))
	}
	got, err = e.store.ReadStream(e.ctx(), stream, 10, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("read past the end: %d events, err %v; want none, no error", len(got), err)
	}
}

func versions(evs []eventstore.RecordedEvent) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Version
	}
	return out
}

func testReadAllOrder(t *testing.T, h Harness) {
	e := newEnv(t, h)
	start := e.head()
	var want []uuid.UUID
	for i := range 30 {
		stream := e.stream(fmt.Sprintf("order-%d", i%3))
		ev := event("Happened", i)
		e.mustAppend(stream, eventstore.Any, ev)
		want = append(want, ev.ID)
	}
	got := e.readOurs(start)
	if len(got) != len(want) {
		t.Fatalf("$all holds %d of our events, want %d", len(got), len(want))
	}
	for i, ev := range got {
		if ev.ID != want[i] {
			t.Fatalf("$all event %d is %s, want %s (append order)", i, ev.ID, want[i])
		}
		if i > 0 && ev.Position <= got[i-1].Position {
			t.Fatalf("$all positions not increasing at %d", i)
		}
	}
	// Paging by limit yields the same sequence.
	page, err := e.store.ReadAll(e.ctx(), got[9].Position, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 5 || (h.DensePositions && page[0].ID != got[10].ID) {
		t.Fatalf("page after event 9: %d events", len(page))
	}
}

// testConcurrentExactWriters: writers that all read version N race to append
// at N; exactly one wins each round, the others see the winner's version.
func testConcurrentExactWriters(t *testing.T, h Harness) {
	e := newEnv(t, h)
	stream := e.stream("race")
	e.mustAppend(stream, eventstore.NoStream, event("Created", 0))
	const writers, rounds = 8, 10
	for round := range rounds {
		var wg sync.WaitGroup
		wins := make(chan int, writers)
		for w := range writers {
			wg.Go(func() {
				_, err := e.store.Append(e.ctx(), stream, eventstore.Exact(int64(round)), event("Raced", w))
				switch {
				case err == nil:
					wins <- w
				case errors.Is(err, eventstore.ErrWrongExpectedVersion):
					var ve *eventstore.VersionError
					if errors.As(err, &ve) && ve.Actual != int64(round)+1 {
						t.Errorf("round %d: loser saw version %d, want %d", round, ve.Actual, round+1)
					}
				default:
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		close(wins)
		if n := len(wins); n != 1 {
			t.Fatalf("round %d: %d writers won, want exactly 1", round, n)
		}
	}
	if n := len(e.mustRead(stream)); n != rounds+1 {
		t.Fatalf("stream has %d events, want %d", n, rounds+1)
	}
}

// testNoGaps: 32 writers append while a subscriber follows $all. The
// subscriber must see strictly increasing positions, never an acknowledged
// event missing before a later one, and exactly the acknowledged events.
func testNoGaps(t *testing.T, h Harness) {
	e := newEnv(t, h)
	const writers, perWriter = 32, 40
	start := e.head()
	ctx := e.ctx()

	type ack struct {
		id  uuid.UUID
		pos uint64
	}
	acks := make(chan ack, writers*perWriter*2)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				// Mix single and double appends, own and shared streams.
				stream := e.stream(fmt.Sprintf("w%d", w))
				if i%4 == 0 {
					stream = e.stream("shared")
				}
				evs := events(1 + i%2)
				res, err := e.store.Append(ctx, stream, eventstore.Any, evs...)
				if err != nil {
					t.Errorf("writer %d append %d: %v", w, i, err)
					return
				}
				for j, ev := range evs {
					acks <- ack{ev.ID, res.Position - uint64(len(evs)-1-j)}
				}
			}
		})
	}
	total := writers * perWriter * 3 / 2
	wait := e.collectAsync(ctx, start, total)
	wg.Wait()
	close(acks)
	seen := wait()
	if t.Failed() {
		return
	}

	positions := map[uuid.UUID]uint64{}
	for i, ev := range seen {
		if _, dup := positions[ev.ID]; dup {
			t.Fatalf("event %s delivered twice", ev.ID)
		}
		positions[ev.ID] = ev.Position
		if h.DensePositions && ev.Position != start+uint64(i)+1 {
			t.Fatalf("subscriber saw position %d as event %d after %d: a gap", ev.Position, i, start)
		}
	}
	n := 0
	for a := range acks {
		n++
		pos, ok := positions[a.id]
		if !ok {
			t.Fatalf("acknowledged event %s (position %d) never delivered", a.id, a.pos)
		}
		if h.DensePositions && pos != a.pos {
			t.Fatalf("event %s acknowledged at %d, delivered at %d", a.id, a.pos, pos)
		}
	}
	if n != len(seen) {
		t.Fatalf("%d events acknowledged, %d delivered", n, len(seen))
	}
}

func testCatchUpThenLive(t *testing.T, h Harness) {
	e := newEnv(t, h)
	start := e.head()
	stream := e.stream("handover")
	const before, during = 300, 300
	for range before / 10 {
		e.mustAppend(stream, eventstore.Any, events(10)...)
	}
	ctx := e.ctx()
	wait := e.collectAsync(ctx, start, before+during)
	// Append while the subscriber catches up and after it went live.
	for range during {
		if _, err := e.store.Append(ctx, stream, eventstore.Any, event("Live", 0)); err != nil {
			t.Fatal(err)
		}
	}
	seen := wait()
	for i, ev := range seen {
		if ev.Version != int64(i) {
			t.Fatalf("delivery %d has version %d: lost or duplicated events at the hand-over", i, ev.Version)
		}
	}
}

func testSubscribeExclusive(t *testing.T, h Harness) {
	e := newEnv(t, h)
	stream := e.stream("excl")
	r := e.mustAppend(stream, eventstore.NoStream, events(3)...)
	all := e.mustRead(stream)
	seen := e.collect(e.ctx(), all[0].Position, 2)
	if seen[0].ID != all[1].ID || seen[1].Position != r.Position {
		t.Fatalf("subscribing after %d delivered %v first, want version 1", all[0].Position, versions(seen))
	}
}

func testSubscribeCancel(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx, cancel := context.WithCancel(e.ctx())
	started := make(chan struct{})
	errc := make(chan error, 1)
	start := e.head() // before the append below, so the event is certainly after it
	go func() {
		var once sync.Once
		errc <- e.store.Subscribe(ctx, start, func([]eventstore.RecordedEvent) error {
			once.Do(func() { close(started) })
			return nil
		})
	}()
	// Deliver one event so the subscription is certainly live, then cancel.
	e.mustAppend(e.stream("cancel"), eventstore.Any, event("Ping", 0))
	select {
	case <-started:
	case <-e.ctx().Done():
		t.Fatal("subscriber never received the event")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled subscription returned %v, want context.Canceled", err)
		}
	case <-e.ctx().Done():
		t.Fatal("cancelled subscription did not return")
	}
}

func testSubscribeHandlerError(t *testing.T, h Harness) {
	e := newEnv(t, h)
	start := e.head()
	e.mustAppend(e.stream("herr"), eventstore.Any, event("Ping", 0))
	boom := errors.New("handler failed")
	err := e.store.Subscribe(e.ctx(), start, func([]eventstore.RecordedEvent) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Subscribe returned %v, want the handler's error", err)
	}
}

func testReopen(t *testing.T, h Harness) {
	e := newEnv(t, h)
	stream := e.stream("reopen")
	evs := events(20)
	r := e.mustAppend(stream, eventstore.NoStream, evs...)
	head := e.head()

	// A subscription running at Close ends (with ErrClosed or a context
	// error if the backend reports closing so).
	subErr := make(chan error, 1)
	go func() {
		subErr <- e.store.Subscribe(e.ctx(), head, func([]eventstore.RecordedEvent) error { return nil })
	}()
	if err := e.store.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := e.store.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	select {
	case err := <-subErr:
		if err == nil {
			t.Fatalf("subscription ended without error at close")
		}
	case <-e.ctx().Done():
		t.Fatal("subscription did not end at close")
	}
	if _, err := e.store.Append(e.ctx(), stream, eventstore.Any, event("Late", 0)); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	if _, err := e.store.ReadStream(e.ctx(), stream, 0, 0); !errors.Is(err, eventstore.ErrClosed) {
		t.Fatalf("read after close: %v, want ErrClosed", err)
	}

	s, err := e.open()
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	e.store = s
	got := e.mustRead(stream)
	if len(got) != len(evs) {
		t.Fatalf("after reopen the stream has %d events, want %d", len(got), len(evs))
	}
	for i := range got {
		if got[i].ID != evs[i].ID {
			t.Fatalf("after reopen event %d is %s, want %s", i, got[i].ID, evs[i].ID)
		}
	}
	if h2 := e.head(); h2 < head {
		t.Fatalf("head went back from %d to %d", head, h2)
	}
	// A store that knows the stream only from disk still refuses to create
	// it again, and writes nothing of the refused append.
	var ve *eventstore.VersionError
	if _, err := e.store.Append(e.ctx(), stream, eventstore.NoStream, event("Again", 0)); !errors.As(err, &ve) || ve.Actual != r.Version {
		t.Fatalf("NoStream append to an existing stream after reopen: %v, want a version error at %d", err, r.Version)
	}
	// Idempotency survives the restart, and appends go on after the old head.
	if again := e.mustAppend(stream, eventstore.NoStream, evs...); again != r {
		t.Fatalf("repeat after reopen returned %+v, want %+v", again, r)
	}
	r2 := e.mustAppend(stream, eventstore.Exact(r.Version), event("After", 0))
	if r2.Position <= head || r2.Version != r.Version+1 {
		t.Fatalf("append after reopen: %+v, want position > %d and version %d", r2, head, r.Version+1)
	}
	if h.DensePositions && r2.Position != head+1 {
		t.Fatalf("append after reopen at position %d, want %d", r2.Position, head+1)
	}
	if !slices.Equal(versions(e.mustRead(stream)), versions(append(got, eventstore.RecordedEvent{Version: 20}))) {
		t.Fatalf("versions after reopen are not 0..20")
	}
}

// testInvalidPosition: reading or subscribing after a number that is not a
// position fails with ErrInvalidPosition, beyond the head on every store
// and between two positions on a sparse one.
func testInvalidPosition(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.mustAppend(e.stream("pos"), eventstore.NoStream, events(3)...)
	got := e.mustRead(e.stream("pos"))
	bad := map[string]uint64{"beyond the head": 1 << 62}
	if h.SparsePositions {
		// The suite computes numbers here to probe the store; consumers
		// never may.
		bad["between two positions"] = got[1].Position + 1
		bad["just before a position"] = got[2].Position - 1
	}
	for name, after := range bad {
		if _, err := e.store.ReadAll(e.ctx(), after, 10); !errors.Is(err, eventstore.ErrInvalidPosition) {
			t.Errorf("ReadAll after %d (%s): err = %v, want ErrInvalidPosition", after, name, err)
		}
		err := e.store.Subscribe(e.ctx(), after, func([]eventstore.RecordedEvent) error {
			return errors.New("delivered events after a number that is not a position")
		})
		if !errors.Is(err, eventstore.ErrInvalidPosition) {
			t.Errorf("Subscribe after %d (%s): err = %v, want ErrInvalidPosition", after, name, err)
		}
	}
	// Positions the store returned are always good to read after.
	for _, ev := range got {
		if _, err := e.store.ReadAll(e.ctx(), ev.Position, 1); err != nil {
			t.Errorf("ReadAll after the position %d of an event: %v", ev.Position, err)
		}
	}
	head := e.head()
	if page, err := e.store.ReadAll(e.ctx(), head, 10); err != nil {
		t.Errorf("ReadAll after the head %d: %v", head, err)
	} else if h.DensePositions && len(page) != 0 {
		t.Errorf("ReadAll after the head %d returned %d events", head, len(page))
	}
}

// testOneView: with another application's events in the log, ReadAll,
// Head and Subscribe show the same events, none of the other's.
func testOneView(t *testing.T, h Harness) {
	if h.WriteForeign == nil {
		t.Skip("the harness cannot write another application's events (Harness.WriteForeign)")
	}
	e := newEnv(t, h)
	ctx := e.ctx()
	foreign := func(n int) {
		t.Helper()
		if err := h.WriteForeign(ctx, e.store, n); err != nil {
			t.Fatal(err)
		}
	}
	foreign(2)
	start := e.head()
	a := e.mustAppend(e.stream("a"), eventstore.NoStream, events(2)...)
	foreign(3)
	b := e.mustAppend(e.stream("b"), eventstore.NoStream, events(1)...)
	foreign(2)

	head := e.head()
	var all []eventstore.RecordedEvent
	for after := start; ; {
		page, err := e.store.ReadAll(ctx, after, 1)
		if err != nil {
			t.Fatalf("read $all after %d: %v", after, err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[0].Position
	}
	var ours []eventstore.RecordedEvent
	headShown := head == start
	for _, ev := range all {
		if strings.HasPrefix(ev.Stream, ForeignStreamPrefix) {
			t.Fatalf("ReadAll shows %s of another application at %d", ev.Stream, ev.Position)
		}
		if ev.Position == head {
			headShown = true
		}
		if e.ours(ev) {
			ours = append(ours, ev)
		}
	}
	if len(ours) != 3 || ours[1].Position != a.Position || ours[2].Position != b.Position {
		t.Fatalf("ReadAll shows %d of our 3 events (positions %v; appended at %d and %d)", len(ours), positions(ours), a.Position, b.Position)
	}
	if !headShown || head < b.Position {
		t.Fatalf("Head is %d, not the position of an event ReadAll shows (our last is at %d): the view differs", head, b.Position)
	}
	if whole, err := e.store.ReadAll(ctx, start, 0); err != nil || len(whole) != len(all) {
		t.Fatalf("ReadAll in one read: %d events, err %v; page by page: %d", len(whole), err, len(all))
	}

	// Subscribe delivers the same events; the foreign ones never.
	var seen []eventstore.RecordedEvent
	done := errors.New("done")
	err := e.store.Subscribe(ctx, start, func(batch []eventstore.RecordedEvent) error {
		if len(batch) == 0 {
			return errors.New("an empty batch")
		}
		for _, ev := range batch {
			if strings.HasPrefix(ev.Stream, ForeignStreamPrefix) {
				return fmt.Errorf("Subscribe delivered %s of another application at %d", ev.Stream, ev.Position)
			}
			seen = append(seen, ev)
			if ev.Position == all[len(all)-1].Position {
				return done
			}
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatalf("subscribe: %v", err)
	}
	if len(seen) != len(all) {
		t.Fatalf("Subscribe delivered %d events, ReadAll shows %d", len(seen), len(all))
	}
	for i := range all {
		if seen[i].ID != all[i].ID || seen[i].Position != all[i].Position {
			t.Fatalf("delivery %d is %s at %d, ReadAll shows %s at %d", i, seen[i].ID, seen[i].Position, all[i].ID, all[i].Position)
		}
	}
}

func positions(evs []eventstore.RecordedEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Position
	}
	return out
}
