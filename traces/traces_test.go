package traces_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded/embeddedtest"
	"github.com/orderstore/orderstore/traces"
)

// eachStore runs test on the embedded store and on its sparse view, each
// in a temp directory.
func eachStore(t *testing.T, test func(t *testing.T, s eventstore.Store)) {
	t.Helper()
	embeddedtest.Each(t, func(t *testing.T, open embeddedtest.Opener) { test(t, open(t, t.TempDir())) })
}

func appendWith(t *testing.T, s eventstore.Store, stream string, meta map[string]any) uuid.UUID {
	t.Helper()
	m, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	if _, err := s.Append(t.Context(), stream, eventstore.Any, eventstore.EventData{ID: id, Type: "T", Data: json.RawMessage(`{}`), Metadata: m}); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestTrace_Links builds a flow by hand: two requests (one recorded
// before requested_at existed), an event caused by an event, and an event
// of another flow; the tree links each to its cause, the first request is
// the root, and times count from it.
func TestTrace_Links(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s eventstore.Store) {
		at := time.Now().Add(-time.Minute).UTC()
		a := appendWith(t, s, "order-1", map[string]any{"correlation_id": "f", "causation_id": "req-a", "requested_at": at, "request": "POST /orders"})
		b := appendWith(t, s, "stock-1", map[string]any{"correlation_id": "f", "causation_id": a.String()})
		appendWith(t, s, "order-2", map[string]any{"correlation_id": "other", "causation_id": "req-x"})
		c := appendWith(t, s, "order-1", map[string]any{"correlation_id": "f", "causation_id": "req-b"})
		tr, err := traces.New(s).Trace(t.Context(), "f")
		if err != nil {
			t.Fatal(err)
		}
		if tr.Root != "req-a" || len(tr.Nodes) != 5 {
			t.Fatalf("root %q, %d nodes: %+v", tr.Root, len(tr.Nodes), tr.Nodes)
		}
		parents := map[string]string{}
		for _, n := range tr.Nodes {
			p := ""
			if n.Parent != nil {
				p = *n.Parent
			}
			parents[n.ID] = p
			if n.At == nil || n.SinceRootMS == nil || *n.SinceRootMS < 0 {
				t.Errorf("node %s: at %v, since root %v", n.ID, n.At, n.SinceRootMS)
			}
		}
		want := map[string]string{"req-a": "", "req-b": "", a.String(): "req-a", b.String(): a.String(), c.String(): "req-b"}
		for id, p := range want {
			if got, ok := parents[id]; !ok || got != p {
				t.Errorf("node %s: parent %q (present %v), want %q", id, got, ok, p)
			}
		}
		if tr.Nodes[0].ID != "req-a" || !tr.Nodes[0].At.Equal(at) {
			t.Errorf("first node %s at %v, want req-a at its requested_at %v", tr.Nodes[0].ID, tr.Nodes[0].At, at)
		}
		if _, err := traces.New(s).Trace(t.Context(), "nobody"); !errors.Is(err, traces.ErrNotFound) {
			t.Fatalf("a flow without events: %v, want ErrNotFound", err)
		}
	})
}
