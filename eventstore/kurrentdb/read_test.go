package kurrentdb

import (
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
