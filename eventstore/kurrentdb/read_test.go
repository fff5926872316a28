package kurrentdb

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/orderstore/orderstore/eventstore"
)

func positionsOf(evs []eventstore.RecordedEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Position
	}
	return out
}

// readPages reads $all after a position page by page, as consumers do.
func readPages(t *testing.T, s *Store, after uint64, limit int) []eventstore.RecordedEvent {
	t.Helper()
	ctx := ctxWithin(t, wait)
	var all []eventstore.RecordedEvent
	for {
		page, err := s.ReadAll(ctx, after, limit)
		if err != nil {
			t.Fatalf("read $all after %d (limit %d): %v", after, limit, err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Position
	}
}

// TestStore_OneView: with StreamPrefixes, ReadAll, Head and Subscribe show
// the same events, and none of other applications' or the server's, even
// when those fill whole pages of $all.
func TestStore_OneView(t *testing.T) {
	f := startFake(t)
	var ours []uint64
	f.add("foreign-a", "ThingDone", 3)
	ours = append(ours, f.add("order-1", "OrderPlaced", 2)...)
	f.add("$stats-node", "$statsCollected", 1)
	f.add("foreign-b", "ThingDone", 2*pageSize+7) // more than a page of others
	ours = append(ours, f.add("stock-sku1", "StockReceived", 1)...)
	f.add("order-2", "$metadata", 1) // a system event type in one of our streams
	f.add("customers-1", "CustomerJoined", 1)
	f.add("foreign-c", "ThingDone", 2)

	s := f.open(t, "order-", "stock-")
	ctx := ctxWithin(t, wait)

	all, err := s.ReadAll(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := positionsOf(all); !slices.Equal(got, ours) {
		t.Fatalf("ReadAll shows %d events (%v…), want our events at %v", len(got), got[:min(len(got), 5)], ours)
	}
	for _, limit := range []int{1, 2} {
		if got := positionsOf(readPages(t, s, 0, limit)); !slices.Equal(got, ours) {
			t.Errorf("ReadAll by pages of %d shows %v, want %v", limit, got, ours)
		}
	}
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := ours[len(ours)-1]; head != want {
		t.Errorf("Head = %d, want %d, the position of the last event ReadAll shows", head, want)
	}
	got, err := collect(ctx, s, 0, len(ours))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(positionsOf(got), ours) {
		t.Errorf("Subscribe delivered %v, want %v", positionsOf(got), ours)
	}
	for i := range got {
		if got[i].ID != all[i].ID {
			t.Errorf("delivery %d is %s, ReadAll shows %s", i, got[i].ID, all[i].ID)
		}
	}

	// Without prefixes the view is every non-system event.
	s = f.open(t)
	if head, err = s.Head(ctx); err != nil {
		t.Fatal(err)
	}
	if all, err = s.ReadAll(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	if want := 3 + 2 + 2*pageSize + 7 + 1 + 1 + 2; len(all) != want || head != all[len(all)-1].Position {
		t.Errorf("unfiltered: ReadAll shows %d events ending at %d, Head is %d; want %d events ending at the head",
			len(all), all[len(all)-1].Position, head, want)
	}
}

// TestStore_InvalidPosition: ReadAll and Subscribe refuse every after that
// is not 0 or the position of an event, whether the server refuses it,
// moves on silently or answers with nothing.
func TestStore_InvalidPosition(t *testing.T) {
	f := startFake(t)
	pos := f.add("order-1", "OrderPlaced", 3)
	legacy := f.addLegacy("order-2", 2)
	s := f.open(t)
	ctx := ctxWithin(t, wait)

	bad := map[string]uint64{
		"inside a record":      pos[1] + 1,
		"just before a record": pos[2] - 1,
		"beyond the head":      legacy + 1<<20,
		"beyond any log":       math.MaxUint64 - 1,
		"the position of a prepare of a legacy transaction": func() uint64 {
			events, _, _ := f.snapshot()
			return events[len(events)-1].pos.Prepare
		}(),
	}
	refused := func(t *testing.T, after uint64) {
		t.Helper()
		if _, err := s.ReadAll(ctx, after, 10); !errors.Is(err, eventstore.ErrInvalidPosition) {
			t.Errorf("ReadAll after %d: %v, want ErrInvalidPosition", after, err)
		}
		err := s.Subscribe(ctx, after, func([]eventstore.RecordedEvent) error {
			return errors.New("delivered events after a number that is not a position")
		})
		if !errors.Is(err, eventstore.ErrInvalidPosition) {
			t.Errorf("Subscribe after %d: %v, want ErrInvalidPosition", after, err)
		}
	}
	for name, after := range bad {
		t.Run(name, func(t *testing.T) { refused(t, after) })
	}
	t.Run("scavenged", func(t *testing.T) {
		f.set(func(f *fakeServer) { f.scavenged = true })
		defer f.set(func(f *fakeServer) { f.scavenged = false })
		refused(t, pos[1]+1)
	})

	// Positions the store returned are good, the head included.
	rest := map[uint64][]uint64{
		pos[0]: {pos[1], pos[2], legacy, legacy},
		pos[1]: {pos[2], legacy, legacy},
		pos[2]: {legacy, legacy},
		legacy: nil,
	}
	for p, want := range rest {
		page, err := s.ReadAll(ctx, p, 0)
		if err != nil {
			t.Errorf("ReadAll after the position %d: %v", p, err)
		} else if !slices.Equal(positionsOf(page), want) {
			t.Errorf("ReadAll after %d: %v, want %v", p, positionsOf(page), want)
		}
	}
	if got, err := collect(ctx, s, pos[0], 4); err != nil || !slices.Equal(positionsOf(got), []uint64{pos[1], pos[2], legacy, legacy}) {
		t.Errorf("Subscribe after %d: %v, %v", pos[0], positionsOf(got), err)
	}
}

// TestStore_SharedCommitPosition: the events of a legacy explicit
// transaction share one commit position. None is dropped, and a page never
// ends inside them, so that reading on after its last position skips none.
func TestStore_SharedCommitPosition(t *testing.T) {
	f := startFake(t)
	first := f.add("order-1", "OrderPlaced", 1)[0]
	commit := f.addLegacy("order-2", 3)
	last := f.add("order-3", "OrderPlaced", 1)[0]
	want := []uint64{first, commit, commit, commit, last}
	s := f.open(t)
	ctx := ctxWithin(t, wait)

	all, err := s.ReadAll(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(positionsOf(all), want) {
		t.Fatalf("ReadAll shows %v, want %v", positionsOf(all), want)
	}
	for limit := 1; limit <= 5; limit++ {
		if got := readPages(t, s, 0, limit); !slices.EqualFunc(got, all, func(a, b eventstore.RecordedEvent) bool { return a.ID == b.ID }) {
			t.Errorf("ReadAll by pages of %d shows %v, want %v", limit, positionsOf(got), want)
		}
	}
	if page, err := s.ReadAll(ctx, 0, 2); err != nil || len(page) != 4 {
		t.Errorf("a page of 2 from the start: %v, %v; want the transaction's 3 events with the first", positionsOf(page), err)
	}
	got, err := collect(ctx, s, 0, len(want))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(positionsOf(got), want) {
		t.Errorf("Subscribe delivered %v, want %v", positionsOf(got), want)
	}
}

// TestStore_StreamReadPositions: a server that reports no position on
// stream reads (the maximum uint64) gives the port's "unknown", 0.
func TestStore_StreamReadPositions(t *testing.T) {
	f := startFake(t)
	f.add("order-1", "OrderPlaced", 2)
	f.set(func(f *fakeServer) { f.noPos = true })
	s := f.open(t)
	got, err := s.ReadStream(ctxWithin(t, wait), "order-1", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Position != 0 || got[1].Position != 0 {
		t.Fatalf("ReadStream positions %v, want [0 0]", positionsOf(got))
	}
}
