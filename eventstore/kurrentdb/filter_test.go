package kurrentdb

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/orderstore/orderstore/eventstore"
)

// TestStore_ReadFiltered: a filter by type, by stream prefix or both
// returns exactly the events of the store's view that match, in position
// order, whole or page by page, though most of $all does not match (other
// applications' events, the server's own, legacy transactions sharing a
// commit position); a correlation ID is refused as unsupported.
func TestStore_ReadFiltered(t *testing.T) {
	f := startFake(t)
	type ev struct {
		pos          uint64
		stream, typ  string
		inView       bool
		legacyCommit bool
	}
	var all []ev
	add := func(stream, typ string, n int) {
		for _, p := range f.add(stream, typ, n) {
			all = append(all, ev{pos: p, stream: stream, typ: typ,
				inView: !strings.HasPrefix(typ, "$") && (strings.HasPrefix(stream, "order-") || strings.HasPrefix(stream, "stock-"))})
		}
	}
	add("order-1", "OrderPlaced", 1)
	add("foreign-a", "OrderPlaced", 3) // a matching type outside the view
	add("stock-a", "StockReceived", 2)
	add("order-1", "OrderPaid", 1)
	add("$stats-node", "$statsCollected", 1)
	add("foreign-b", "ThingDone", 2*pageSize+5)
	add("order-2", "OrderPlaced", 2)
	add("order-2", "$metadata", 1)
	commit := f.addLegacy("order-3", 3) // three events at one commit position
	for range 3 {
		all = append(all, ev{pos: commit, stream: "order-3", typ: "Legacy", inView: true, legacyCommit: true})
	}
	add("stock-b", "StockReceived", 1)
	add("order-10", "OrderPlaced", 1)

	s := f.open(t, "order-", "stock-")
	ctx := ctxWithin(t, wait)
	for _, filter := range []eventstore.Filter{
		{Type: "OrderPlaced"},
		{Type: "StockReceived"},
		{Type: "Legacy"},
		{StreamPrefix: "order-1"},
		{StreamPrefix: "stock-"},
		{StreamPrefix: "order-"},
		{Type: "OrderPlaced", StreamPrefix: "order-1"},
		{Type: "NoSuchType"},
		{StreamPrefix: "foreign-"}, // outside the view: nothing
	} {
		var want []uint64
		for _, e := range all {
			if e.inView && filter.Match(eventstore.RecordedEvent{Stream: e.stream, Type: e.typ}) {
				want = append(want, e.pos)
			}
		}
		for _, limit := range []int{0, 1, 2, 500} {
			var got []uint64
			after := uint64(0)
			for pages := 0; ; pages++ {
				page, err := s.ReadFiltered(ctx, after, limit, filter)
				if err != nil {
					t.Fatalf("%+v after %d (limit %d): %v", filter, after, limit, err)
				}
				if len(page) == 0 {
					break
				}
				for _, e := range page {
					if !filter.Match(e) {
						t.Errorf("%+v: event %s/%s does not match", filter, e.Stream, e.Type)
					}
				}
				got = append(got, positionsOf(page)...)
				after = page[len(page)-1].Position
				if limit == 0 || pages > len(want)+1 {
					break
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%+v by pages of %d: %v, want %v", filter, limit, got, want)
			}
		}
	}

	if _, err := s.ReadFiltered(ctx, 0, 10, eventstore.Filter{CorrelationID: "c-1"}); !errors.Is(err, eventstore.ErrUnsupported) {
		t.Errorf("filter by correlation ID: %v, want ErrUnsupported", err)
	}
	if _, err := s.ReadFiltered(ctx, all[0].pos+1, 10, eventstore.Filter{Type: "OrderPlaced"}); !errors.Is(err, eventstore.ErrInvalidPosition) {
		t.Errorf("after inside a record: %v, want ErrInvalidPosition", err)
	}
	last := all[len(all)-1].pos
	page, err := s.ReadFiltered(ctx, last, 10, eventstore.Filter{Type: "OrderPlaced"})
	if err != nil || len(page) != 0 {
		t.Errorf("after the last event: %v, %v; want an empty page", page, err)
	}
}
