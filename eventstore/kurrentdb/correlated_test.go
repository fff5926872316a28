package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/projections"
)

// TestCorrelatedStore_OnKurrentDB runs serve's answer to a filter on a
// correlation ID on KurrentDB (the correlations projection and
// projections.CorrelatedStore) over this adapter and the server's
// protocol: one flow spread over streams, with the events of a legacy
// transaction sharing one commit position, versions far apart in one
// stream, other flows and another application's streams in between; read
// in pages of two, and again from a server whose stream reads carry no
// position.
func TestCorrelatedStore_OnKurrentDB(t *testing.T) {
	for _, noPos := range []bool{false, true} {
		t.Run(fmt.Sprintf("noPos=%v", noPos), func(t *testing.T) {
			f := startFake(t)
			f.add("order-1", "Tested", 2)
			f.add("foreign-a", "Tested", 3)
			f.add("stock-a", "Tested", 2)
			f.addLegacy("order-3", 3)
			f.add("order-2", "Tested", 40)
			f.add("order-1", "Tested", 1)
			inFlow := func(e fakeEvent) bool {
				switch e.stream {
				case "order-1":
					return e.rev != 1
				case "stock-a", "foreign-a":
					return e.rev == 1
				case "order-3":
					return true
				case "order-2":
					return e.rev == 0 || e.rev == 39
				}
				return false
			}
			f.set(func(f *fakeServer) {
				for i := range f.events {
					f.events[i].meta = []byte(`{"correlation_id":"other"}`)
					if inFlow(f.events[i]) {
						f.events[i].meta = []byte(`{"correlation_id":"flow-a","schema":1}`)
					}
				}
				f.noPos = noPos
			})
			s := f.open(t, "order-", "stock-")
			m, err := projections.Open(t.TempDir(), s, projections.Options{CorrelationIndex: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
					t.Error(err)
				}
				if err := m.Close(); err != nil {
					t.Error(err)
				}
			}()
			c := projections.CorrelatedStore(s, m, time.Minute)
			rctx := ctxWithin(t, wait)

			f.set(func(f *fakeServer) { f.noPos = false }) // the expectation, from $all
			all, err := s.ReadAll(rctx, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.set(func(f *fakeServer) { f.noPos = noPos })
			filter := eventstore.Filter{CorrelationID: "flow-a"}
			var want []eventstore.RecordedEvent
			for _, ev := range all {
				if filter.Match(ev) {
					want = append(want, ev)
				}
			}
			if len(want) != 8 { // order-1 ×2, stock-a, order-3 ×3, order-2 ×2, not foreign-a
				t.Fatalf("the fake holds %d events of the flow in the view, want 8", len(want))
			}
			var got []eventstore.RecordedEvent
			for after := uint64(0); ; {
				page, err := c.ReadFiltered(rctx, after, 2, filter)
				if err != nil {
					t.Fatalf("after %d: %v", after, err)
				}
				if len(page) == 0 {
					break
				}
				// More than two only to finish the events of one position.
				if len(page) > 2 && page[1].Position != page[len(page)-1].Position {
					t.Fatalf("a page of %d events, limit 2: %v", len(page), positionsOf(page))
				}
				got = append(got, page...)
				after = page[len(page)-1].Position
			}
			if len(got) != len(want) {
				t.Fatalf("%d events %v, want %d %v", len(got), positionsOf(got), len(want), positionsOf(want))
			}
			for i := range got {
				if got[i].ID != want[i].ID || got[i].Position != want[i].Position || !strings.Contains(string(got[i].Metadata), "flow-a") {
					t.Fatalf("event %d: %s at %d, want %s at %d", i, got[i].ID, got[i].Position, want[i].ID, want[i].Position)
				}
			}
			// Type and prefix narrow it in the index.
			prefixed, err := c.ReadFiltered(rctx, 0, 0, eventstore.Filter{CorrelationID: "flow-a", StreamPrefix: "order-3"})
			if err != nil || len(prefixed) != 3 {
				t.Fatalf("flow-a in order-3: %d events, err %v; want 3", len(prefixed), err)
			}
		})
	}
}
