package api_test

import (
	"encoding/json"
	"testing"
)

// eventMeta is the metadata of an order's events as GET
// /orders/{id}/events shows it.
func (e *env) eventMeta(t *testing.T, orderID string) []map[string]any {
	t.Helper()
	r := e.expect(e.do("GET", "/orders/"+orderID+"/events", nil), 200)
	var page struct {
		Events []struct {
			Metadata map[string]any `json:"metadata"`
		} `json:"events"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, len(page.Events))
	for i, ev := range page.Events {
		out[i] = ev.Metadata
	}
	return out
}

func TestCausation_RequestID(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		placed := e.expect(e.do("POST", "/orders", placeBody("c-1"), "X-Correlation-ID", "flow-c1", "traceparent", tp), 201)
		placeID := placed.header.Get("X-Request-ID")
		if placeID == "" || placed.header.Get("X-Correlation-ID") != "flow-c1" {
			t.Fatalf("place answer lacks X-Request-ID or X-Correlation-ID: %v", placed.header)
		}
		paid := e.expect(e.do("POST", "/orders/c-1/payment", map[string]any{"amount": 2500, "payment_ref": "p-1"},
			"X-Correlation-ID", "flow-c1", "traceparent", "00-not-a-traceparent"), 200)
		payID := paid.header.Get("X-Request-ID")
		if payID == "" || payID == placeID {
			t.Fatalf("pay X-Request-ID %q (place's %q): want a new one", payID, placeID)
		}
		// Every answer has one, reads too, each its own.
		got := e.expect(e.do("GET", "/orders/c-1", nil), 200).header.Get("X-Request-ID")
		if got == "" || got == payID {
			t.Fatalf("GET answer X-Request-ID %q", got)
		}

		meta := e.eventMeta(t, "c-1")
		if len(meta) != 2 {
			t.Fatalf("%d events, want 2", len(meta))
		}
		want := []struct{ causation, traceparent, request string }{
			{placeID, tp, "POST /orders"},
			{payID, "", "POST /orders/{id}/payment"},
		}
		for i, w := range want {
			m := meta[i]
			if m["causation_id"] != w.causation || m["correlation_id"] != "flow-c1" || m["request"] != w.request {
				t.Errorf("event %d metadata %v: want causation %s, correlation flow-c1, request %q", i, m, w.causation, w.request)
			}
			if tp, _ := m["traceparent"].(string); tp != w.traceparent {
				t.Errorf("event %d traceparent %q, want %q (an invalid one is ignored)", i, tp, w.traceparent)
			}
			if _, ok := m["requested_at"].(string); !ok {
				t.Errorf("event %d has no requested_at: %v", i, m)
			}
		}
	})
}

func TestCausation_ReplayAnswersTheWritersRequestID(t *testing.T) {
	t.Parallel()
	e := variant{name: "embedded"}.newEnv(t)
	first := e.expect(e.do("POST", "/orders", placeBody("c-2"), "Idempotency-Key", "k-c2"), 201)
	again := e.expect(e.do("POST", "/orders", placeBody("c-2"), "Idempotency-Key", "k-c2"), 201)
	if again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("second request not replayed: %v", again.header)
	}
	id := first.header.Get("X-Request-ID")
	if id == "" || again.header.Get("X-Request-ID") != id {
		t.Fatalf("replay X-Request-ID %q, want the writer's %q", again.header.Get("X-Request-ID"), id)
	}
	if m := e.eventMeta(t, "c-2"); m[0]["causation_id"] != id {
		t.Fatalf("causation %v, want %s", m[0]["causation_id"], id)
	}
	r := e.expect(e.do("POST", "/stock/SKU-9/receipts", map[string]any{"quantity": 3}, "Idempotency-Key", "k-s9"), 200)
	r2 := e.expect(e.do("POST", "/stock/SKU-9/receipts", map[string]any{"quantity": 3}, "Idempotency-Key", "k-s9"), 200)
	if r.header.Get("X-Request-ID") == "" || r2.header.Get("X-Request-ID") != r.header.Get("X-Request-ID") {
		t.Fatalf("stock replay X-Request-ID %q, want %q", r2.header.Get("X-Request-ID"), r.header.Get("X-Request-ID"))
	}
}
