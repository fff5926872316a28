package api_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
)

func TestReadModels(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		e.expect(e.do("POST", "/orders", placeBody("a")), 201)
		e.expect(e.do("POST", "/orders", placeBody("b")), 201)
		e.expect(e.do("POST", "/orders/a/payment", map[string]any{"amount": 2500, "payment_ref": "p"}), 200)
		e.expect(e.do("POST", "/orders/a/shipment", map[string]any{"carrier": "c", "tracking": "t"}), 200)
		e.expect(e.do("POST", "/orders/b/cancellation", map[string]any{"reason": "r"}), 200)
		r := e.expect(e.do("POST", "/stock/SKU-1/receipts", map[string]any{"quantity": 10}), 200)
		pos := r.header.Get("X-Position")

		r = e.expect(e.do("GET", "/stock/SKU-1?min_position="+pos, nil), 200)
		if got, _ := strconv.Atoi(r.header.Get("X-Position")); strconv.Itoa(got) != pos {
			t.Fatalf("stock read at position %q, want %s", r.header.Get("X-Position"), pos)
		}
		item := r.json(t)
		want := map[string]float64{"received": 10, "reserved": 0, "shipped": 2, "on_hand": 8, "available": 8}
		for k, w := range want {
			if item[k] != w {
				t.Fatalf("stock %s = %v, want %v: %s", k, item[k], w, r.body)
			}
		}
		r = e.expect(e.do("GET", "/stock?min_position="+pos, nil), 200)
		if items := r.json(t)["items"].([]any); len(items) != 1 {
			t.Fatalf("GET /stock: %s", r.body)
		}
		r = e.expect(e.do("GET", "/analytics?min_position="+pos, nil), 200)
		var a struct {
			ByStatus map[string]int `json:"orders_by_status"`
			Total    int            `json:"orders_total"`
			Rate     float64        `json:"cancellation_rate"`
			Revenue  map[string]struct {
				Gross, Refunds, Net int64
			} `json:"revenue"`
			TopSKUs []map[string]any `json:"top_skus"`
			Daily   []map[string]any `json:"daily"`
		}
		if err := json.Unmarshal(r.body, &a); err != nil {
			t.Fatal(err)
		}
		if a.Total != 2 || a.ByStatus["shipped"] != 1 || a.ByStatus["cancelled"] != 1 || a.Rate != 0.5 ||
			a.Revenue["EUR"].Gross != 2500 || a.Revenue["EUR"].Net != 2500 || len(a.TopSKUs) != 1 || len(a.Daily) != 1 {
			t.Fatalf("analytics: %s", r.body)
		}
		e.expect(e.do("GET", "/stock/NOPE", nil), 404)
		e.expect(e.do("GET", "/stock?min_position=x", nil), 400)

		// A position the log has not reached (the largest the API takes:
		// positions are tokens, so none is computed from pos): 409 at
		// once, with the head.
		r = e.expect(e.do("GET", "/analytics?min_position=4611686018427387904", nil), 409)
		if p := r.json(t); p["code"] != "position_not_reached" || fmt.Sprint(p["head"]) != pos {
			t.Fatalf("beyond the head: %s", r.body)
		}

		r = e.expect(e.do("GET", "/orders?min_position="+pos, nil), 200)
		if got := r.json(t)["orders"].([]any); len(got) != 2 {
			t.Fatalf("GET /orders: %s", r.body)
		}

		r = e.expect(e.do("GET", "/projections", nil), 200)
		var st struct {
			Projections []struct {
				Name, State string
				Position    uint64
				Head        uint64
				Lag         uint64
			} `json:"projections"`
		}
		count := 4 // and on the KurrentDB shape, the correlation index
		if v.sparse {
			count = 5
		}
		if err := json.Unmarshal(r.body, &st); err != nil || len(st.Projections) != count {
			t.Fatalf("projections: %v %s", err, r.body)
		}
		// Every projection waited for pos, the last event (the order list
		// above): they are at the head, with nothing left to apply.
		for _, p := range st.Projections {
			if fmt.Sprint(p.Position) != pos || p.Head != p.Position || p.Lag != 0 {
				t.Fatalf("projection %s at %d, head %d, lag %d; want at the head %s, lag 0: %s",
					p.Name, p.Position, p.Head, p.Lag, pos, r.body)
			}
		}
		e.expect(e.do("POST", "/projections/all/rebuild", nil), 202)
		e.expect(e.do("POST", "/projections/nope/rebuild", nil), 404)
	})
}

// TestReadYourWrites: concurrent writers each read the stock at their own
// command's position and must see their own reservation.
func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 10 {
					sku := fmt.Sprintf("W%d", w)
					body := map[string]any{"customer_id": "c", "currency": "EUR",
						"lines": []map[string]any{{"sku": sku, "quantity": 1, "unit_price": 1}}}
					r := e.expect(e.do("POST", "/orders", body), 201)
					r = e.expect(e.do("GET", "/stock/"+sku+"?min_position="+r.header.Get("X-Position"), nil), 200)
					if got := r.json(t)["reserved"]; got != float64(i+1) {
						t.Errorf("writer %d after %d orders reads reserved %v", w, i+1, got)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}
