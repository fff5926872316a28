package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/traces"
)

// stepSource stands for a consumer that plugs its nodes into traces (the
// fulfilment saga): a "saga" node under every OrderPlaced.
type stepSource struct{}

func (stepSource) TraceNodes(_ context.Context, _ string, events []eventstore.RecordedEvent) ([]traces.Node, error) {
	var out []traces.Node
	for _, e := range events {
		if e.Type == "OrderPlaced" {
			parent, at := e.ID.String(), e.RecordedAt
			out = append(out, traces.Node{ID: parent + "/reserve", Parent: &parent, Kind: traces.KindSaga, At: &at,
				Name: "reserve", State: "reserved", Detail: map[string]any{"sku": "SKU-1"}})
		}
	}
	return out, nil
}

type traceView struct {
	CorrelationID string        `json:"correlation_id"`
	Root          string        `json:"root"`
	Nodes         []traces.Node `json:"nodes"`
}

func (tv traceView) byID() map[string]traces.Node {
	m := map[string]traces.Node{}
	for _, n := range tv.Nodes {
		m[n.ID] = n
	}
	return m
}

func parentOf(n traces.Node) string {
	if n.Parent == nil {
		return ""
	}
	return *n.Parent
}

func TestTraces_Flow(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.openEnvWith(t, t.TempDir(), envOptions{traceSources: []traces.Source{stepSource{}}})
		const flow = "flow-trace-1"
		placed := e.expect(e.do("POST", "/orders", placeBody("t-1"), "X-Correlation-ID", flow), 201)
		paid := e.expect(e.do("POST", "/orders/t-1/payment", map[string]any{"amount": 2500, "payment_ref": "p"}, "X-Correlation-ID", flow), 200)
		received := e.expect(e.do("POST", "/stock/SKU-1/receipts", map[string]any{"quantity": 5}, "X-Correlation-ID", flow), 200)
		// Another flow on the same order.
		other := e.expect(e.do("POST", "/orders/t-1/shipment", map[string]any{"carrier": "c", "tracking": "t"}, "X-Correlation-ID", "flow-trace-2"), 200)

		// A consumer reacts to OrderPaid: its event's causation is that
		// event, its correlation the flow's.
		evs := e.eventsOf(t, "t-1")
		paidEvent := evs[1]
		meta, _ := json.Marshal(map[string]any{"correlation_id": flow, "causation_id": paidEvent.ID, "schema": 1}) //nolint:errcheck // test
		reaction := eventstore.EventData{ID: uuid.New(), Type: "StockReceived",
			Data: json.RawMessage(`{"sku":"SKU-2","quantity":1,"received_at":"2026-01-01T00:00:00Z"}`), Metadata: meta}
		res, err := e.store.Append(t.Context(), "stock-SKU-2", eventstore.Any, reaction)
		if err != nil {
			t.Fatal(err)
		}
		// Every projection has applied everything once the read models
		// answer at the last position.
		last := fmt.Sprint(res.Position)
		e.expect(e.do("GET", "/stock?min_position="+last, nil), 200)
		e.expect(e.do("GET", "/analytics?min_position="+last, nil), 200)
		e.expect(e.do("GET", "/orders?min_position="+last, nil), 200)

		r := e.expect(e.do("GET", "/traces/"+flow, nil), 200)
		var tv traceView
		if err := json.Unmarshal(r.body, &tv); err != nil {
			t.Fatal(err)
		}
		nodes := tv.byID()
		placeReq, payReq, receiveReq := placed.header.Get("X-Request-ID"), paid.header.Get("X-Request-ID"), received.header.Get("X-Request-ID")
		if tv.CorrelationID != flow || tv.Root != placeReq {
			t.Fatalf("trace of %q rooted at %q, want %q: %s", tv.CorrelationID, tv.Root, placeReq, r.body)
		}
		for _, req := range []struct{ id, name string }{{placeReq, "POST /orders"}, {payReq, "POST /orders/{id}/payment"}, {receiveReq, "POST /stock/{sku}/receipts"}} {
			n, ok := nodes[req.id]
			if !ok || n.Kind != traces.KindRequest || n.Parent != nil || n.Name != req.name || n.At == nil {
				t.Fatalf("request node %s: %+v", req.id, n)
			}
		}
		if _, ok := nodes[other.header.Get("X-Request-ID")]; ok {
			t.Fatal("the shipment of another flow is in the trace")
		}
		stockEvents := e.feed(t, map[string][]string{"stream_prefix": {"stock-"}}, 100)
		wantParent := map[string]string{
			evs[0].ID:              placeReq, // OrderPlaced
			paidEvent.ID:           payReq,
			stockEvents[0].ID:      receiveReq,
			reaction.ID.String():   paidEvent.ID,
			evs[0].ID + "/reserve": evs[0].ID,
		}
		for id, parent := range wantParent {
			n, ok := nodes[id]
			if !ok || parentOf(n) != parent {
				t.Errorf("node %s: parent %q, want %q (found %v)", id, parentOf(n), parent, ok)
			}
		}
		if n := nodes[paidEvent.ID]; n.Kind != traces.KindEvent || n.Stream != "order-t-1" || n.Version == nil || *n.Version != 1 ||
			n.Position == nil || *n.Position != paidEvent.Position || n.Name != "OrderPaid" || n.SinceRootMS == nil || *n.SinceRootMS < 0 {
			t.Errorf("OrderPaid node: %+v", n)
		}
		// A projection node per event and read model, all applied.
		events, projNodes := 0, 0
		for _, n := range tv.Nodes {
			switch n.Kind {
			case traces.KindEvent:
				events++
			case traces.KindProjection:
				projNodes++
				p, ok := nodes[parentOf(n)]
				if !ok || p.Kind != traces.KindEvent || n.Applied == nil || !*n.Applied || n.At == nil || n.ID != p.ID+"/"+n.Name {
					t.Errorf("projection node %+v under %+v", n, p)
				}
			}
		}
		statuses, err := e.models.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		readModels := len(statuses)
		if events != 4 || projNodes != 4*readModels {
			t.Errorf("%d events and %d projection nodes, want 4 and %d (one per event and read model)", events, projNodes, 4*readModels)
		}

		r = e.expect(e.do("GET", "/orders/t-1/trace", nil), 200)
		var ot struct {
			OrderID string      `json:"order_id"`
			Traces  []traceView `json:"traces"`
		}
		if err := json.Unmarshal(r.body, &ot); err != nil {
			t.Fatal(err)
		}
		if ot.OrderID != "t-1" || len(ot.Traces) != 2 || ot.Traces[0].CorrelationID != flow || ot.Traces[1].CorrelationID != "flow-trace-2" {
			t.Fatalf("order traces: %s", r.body)
		}

		e.expect(e.do("GET", "/traces/nobody-has-this", nil), 404)
		e.expect(e.do("GET", "/traces/a%20b", nil), 422)
		e.expect(e.do("GET", "/orders/nope/trace", nil), 404)
	})
}

// eventsOf returns an order's events as GET /orders/{id}/events shows them.
func (e *env) eventsOf(t *testing.T, orderID string) []feedEvent {
	t.Helper()
	r := e.expect(e.do("GET", "/orders/"+orderID+"/events", nil), 200)
	var page struct {
		Events []feedEvent `json:"events"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	return page.Events
}
