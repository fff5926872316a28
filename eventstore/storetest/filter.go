package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

// testReadFiltered: ReadFiltered returns exactly the events its filter
// selects (eventstore.Filter.Match), in position order, page after page.
// A backend that cannot serve a filter says so with ErrUnsupported, and
// the case skips what it cannot check.
func testReadFiltered(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ctx := e.ctx()
	start := e.head()
	if h.WriteForeign != nil {
		if err := h.WriteForeign(ctx, e.store, 2); err != nil {
			t.Fatal(err)
		}
	}
	// Names unique to this test, so that a shared server's other events
	// match no filter below, even read from the beginning of the log.
	corr := []string{e.prefix + "flow-a", e.prefix + "flow-b"}
	types := []string{"Filtered" + e.prefix + "A", "Filtered" + e.prefix + "B"}
	streams := []string{e.stream("x-1"), e.stream("x-2"), e.stream("xy"), e.stream("y-1")}
	for i := range 24 {
		data, _ := json.Marshal(map[string]int{"n": i}) //nolint:errcheck // a map of ints
		meta, _ := json.Marshal(map[string]any{"correlation_id": corr[i%2], "schema": 1})
		ev := eventstore.EventData{ID: uuid.New(), Type: types[i%3%2], Data: data, Metadata: meta}
		if i == 5 {
			ev.Metadata = nil // no metadata: no correlation ID
		}
		e.mustAppend(streams[i%len(streams)], eventstore.Any, ev)
	}
	ours := e.readOurs(start)
	if len(ours) != 24 {
		t.Fatalf("$all shows %d of our 24 events", len(ours))
	}

	for _, f := range []eventstore.Filter{
		{CorrelationID: corr[0]},
		{CorrelationID: corr[1]},
		{Type: types[0]},
		{Type: types[1]},
		{StreamPrefix: e.stream("x-")},
		{StreamPrefix: e.stream("x")},
		{StreamPrefix: e.stream("y-1")},
		{CorrelationID: corr[0], Type: types[1]},
		{CorrelationID: corr[1], StreamPrefix: e.stream("x")},
		{Type: types[0], StreamPrefix: e.stream("x-")},
		{CorrelationID: corr[0], Type: types[0], StreamPrefix: e.stream("x-1")},
		{CorrelationID: e.prefix + "nobody"},
		{StreamPrefix: e.stream("z")},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			var want []eventstore.RecordedEvent
			for _, ev := range ours {
				if f.Match(ev) {
					want = append(want, ev)
				}
			}
			// From the beginning of the log, three at a time.
			var got []eventstore.RecordedEvent
			for after := uint64(0); ; {
				page, err := e.store.ReadFiltered(ctx, after, 3, f)
				if errors.Is(err, eventstore.ErrUnsupported) {
					t.Skipf("the store cannot serve this filter: %v", err)
				}
				if err != nil {
					t.Fatalf("read filtered after %d: %v", after, err)
				}
				if len(page) > 3 {
					t.Fatalf("a page of %d events, limit 3", len(page))
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				after = page[len(page)-1].Position
			}
			if len(got) != len(want) {
				t.Fatalf("%d events, want %d (positions %v, want %v)", len(got), len(want), positions(got), positions(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID || got[i].Position != want[i].Position {
					t.Fatalf("event %d is %s at %d, want %s at %d", i, got[i].ID, got[i].Position, want[i].ID, want[i].Position)
				}
			}
			// In one read, after a position from the middle.
			if len(want) > 2 {
				rest, err := e.store.ReadFiltered(ctx, want[1].Position, 0, f)
				if err != nil || len(rest) != len(want)-2 || rest[0].ID != want[2].ID {
					t.Fatalf("after the second match: %d events, err %v; want %d from %s", len(rest), err, len(want)-2, want[2].ID)
				}
			}
		})
	}

	t.Run("Zero", func(t *testing.T) {
		all, err := e.store.ReadFiltered(ctx, start, 0, eventstore.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		whole, err := e.store.ReadAll(ctx, start, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(whole) {
			t.Fatalf("the zero filter reads %d events, ReadAll %d", len(all), len(whole))
		}
	})
}
