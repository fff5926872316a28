package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// settle waits until the saga has handled every event of the store, those
// it wrote included, and every projection has applied them.
func (e *env) settle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), time.Minute)
	defer cancel()
	for {
		head, err := e.store.Head(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := e.saga.WaitFor(ctx, head); err != nil {
			e.t.Fatal(err)
		}
		if again, err := e.store.Head(ctx); err != nil || again != head {
			continue
		}
		for _, name := range []string{"stock", "analytics", "orders", "fulfilment"} {
			if err := e.models.WaitFor(ctx, name, head); err != nil {
				e.t.Fatal(err)
			}
		}
		return
	}
}

type fulfilmentBody struct {
	OrderID string `json:"order_id"`
	State   string `json:"state"`
	Steps   []struct {
		At      time.Time `json:"at"`
		Step    string    `json:"step"`
		SKU     string    `json:"sku"`
		Result  string    `json:"result"`
		EventID string    `json:"event_id"`
	} `json:"steps"`
	Deadline *time.Time `json:"deadline"`
}

func (e *env) fulfilment(id string) fulfilmentBody {
	e.t.Helper()
	var f fulfilmentBody
	if err := json.Unmarshal(e.expect(e.do("GET", "/orders/"+id+"/fulfilment", nil), 200).body, &f); err != nil {
		e.t.Fatal(err)
	}
	return f
}

func TestFulfilment(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.openEnvWith(t, t.TempDir(), envOptions{reserve: true})
		e.expect(e.do("POST", "/stock/A/receipts", map[string]any{"quantity": 3}), 200)
		place := func(id string, q int) {
			e.expect(e.do("POST", "/orders", map[string]any{"id": id, "customer_id": "c", "currency": "EUR",
				"lines": []map[string]any{{"sku": "A", "quantity": q, "unit_price": 100}}}), 201)
		}
		place("o-1", 2)
		e.settle()
		place("o-2", 2) // one unit left: rejected
		e.settle()

		o1 := e.expect(e.do("GET", "/orders/o-1", nil), 200).json(t)
		if o1["status"] != "placed" || o1["stock_reservation"] != "reserved" {
			t.Errorf("o-1: %v", o1)
		}
		o2 := e.expect(e.do("GET", "/orders/o-2", nil), 200).json(t)
		if o2["status"] != "rejected" || o2["reject_reason"] != "out_of_stock" || o2["stock_reservation"] != "released" {
			t.Errorf("o-2: %v", o2)
		}
		if short, _ := json.Marshal(o2["short"]); string(short) != `[{"available":1,"requested":2,"sku":"A"}]` {
			t.Errorf("o-2 short %s", short)
		}

		f1 := e.fulfilment("o-1")
		if f1.State != "reserved" || f1.Deadline == nil || !f1.Deadline.Equal(e.clock.Now().Add(30*time.Minute)) {
			t.Errorf("o-1 fulfilment %+v; want reserved with a deadline 30m on", f1)
		}
		var steps []string
		for _, s := range e.fulfilment("o-2").Steps {
			steps = append(steps, s.Step+" "+s.SKU+" "+s.Result)
		}
		if got, want := strings.Join(steps, ", "), "place  placed, reserve A refused, reject  out_of_stock"; got != want {
			t.Errorf("o-2 steps: %s\nwant %s", got, want)
		}
		if f := e.fulfilment("o-2"); f.State != "rejected" || f.Deadline != nil {
			t.Errorf("o-2 fulfilment %+v", f)
		}
		checkSagaTrace(t, e, "o-2", "place  placed, reserve A refused, reject  out_of_stock")

		stock := e.expect(e.do("GET", "/stock/A", nil), 200).json(t)
		if stock["reserved"] != float64(2) || stock["available"] != float64(1) {
			t.Errorf("stock A %v", stock)
		}
		list := e.expect(e.do("GET", "/orders?status=rejected", nil), 200).json(t)
		if items, _ := list["orders"].([]any); len(items) != 1 {
			t.Errorf("rejected orders: %v", list)
		}
		an := e.expect(e.do("GET", "/analytics", nil), 200).json(t)
		if by, _ := an["orders_by_status"].(map[string]any); by["rejected"] != float64(1) {
			t.Errorf("analytics %v", an)
		}

		// The deadline passes: o-1 is cancelled and its stock released.
		e.clock.Advance(30 * time.Minute)
		// (Run's timer may fire it first; either way, once.)
		if _, err := e.saga.FireDeadlines(t.Context()); err != nil {
			t.Fatal(err)
		}
		e.settle()
		o1 = e.expect(e.do("GET", "/orders/o-1", nil), 200).json(t)
		if o1["status"] != "cancelled" || o1["cancel_reason"] != "payment_timeout" || o1["stock_reservation"] != "released" {
			t.Errorf("o-1 after its deadline: %v", o1)
		}
		if s := e.expect(e.do("GET", "/stock/A", nil), 200).json(t); s["reserved"] != float64(0) || s["available"] != float64(3) {
			t.Errorf("stock A after the deadline %v", s)
		}
		// Payment now is refused; the events show the saga's metadata.
		e.expect(e.do("POST", "/orders/o-1/payment", map[string]any{"amount": 200, "payment_ref": "late"}), 409)
		evs := e.expect(e.do("GET", "/orders/o-1/events", nil), 200).body
		if !strings.Contains(string(evs), `"actor":"fulfilment"`) {
			t.Errorf("o-1 events without the saga's actor: %s", evs)
		}
		metrics := string(e.expect(e.do("GET", "/metrics", nil), 200).body)
		for _, m := range []string{"orderstore_fulfilment_compensations_total 1", "orderstore_fulfilment_deadline_firings_total 1"} {
			if !strings.Contains(metrics, m) {
				t.Errorf("metrics lack %q", m)
			}
		}

		// Unknown order: 404. The policy is the service's, not the client's.
		e.expect(e.do("GET", "/orders/nope/fulfilment", nil), 404)
		e.expect(e.do("POST", "/orders", map[string]any{"id": "o-3", "customer_id": "c", "currency": "EUR", "reserve_stock": false,
			"lines": []map[string]any{{"sku": "A", "quantity": 1, "unit_price": 100}}}), 400)
	})
}

// checkSagaTrace checks that the trace of order id holds a saga node per
// step (want: "step sku result, …"), and that the reservation's node hangs
// under the OrderPlaced that caused it.
func checkSagaTrace(t *testing.T, e *env, id, want string) {
	t.Helper()
	var ot struct {
		Traces []struct {
			Nodes []struct {
				ID     string         `json:"id"`
				Parent *string        `json:"parent"`
				Kind   string         `json:"kind"`
				Name   string         `json:"name"`
				State  string         `json:"state"`
				Detail map[string]any `json:"detail"`
			} `json:"nodes"`
		} `json:"traces"`
	}
	if err := json.Unmarshal(e.expect(e.do("GET", "/orders/"+id+"/trace", nil), 200).body, &ot); err != nil {
		t.Fatal(err)
	}
	var steps []string
	placed, reserveParent := "", ""
	for _, tr := range ot.Traces {
		for _, n := range tr.Nodes {
			switch {
			case n.Kind == "event" && n.Name == "OrderPlaced":
				placed = n.ID
			case n.Kind == "saga":
				sku, _ := n.Detail["sku"].(string)
				steps = append(steps, n.Name+" "+sku+" "+n.State)
				if n.Name == "reserve" && n.Parent != nil {
					reserveParent = *n.Parent
				}
			}
		}
	}
	if got := strings.Join(steps, ", "); got != want {
		t.Errorf("saga nodes in the trace of %s: %s\nwant %s", id, got, want)
	}
	if placed == "" || reserveParent != placed {
		t.Errorf("the reserve step's node hangs under %q, want the OrderPlaced event %q", reserveParent, placed)
	}
}
