package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// orderPage is the answer of GET /orders.
type orderPage struct {
	Orders []struct {
		ID         string `json:"id"`
		CustomerID string `json:"customer_id"`
		Status     string `json:"status"`
		Currency   string `json:"currency"`
		Total      int64  `json:"total"`
		LineCount  int    `json:"line_count"`
		Version    int64  `json:"version"`
		Position   uint64 `json:"position"`
		PlacedAt   string `json:"placed_at"`
		PaidAt     *string
	} `json:"orders"`
	Next uint64 `json:"next"`
}

func (e *env) orders(query string) orderPage {
	e.t.Helper()
	r := e.expect(e.do("GET", "/orders?"+query, nil), 200)
	var p orderPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		e.t.Fatalf("GET /orders?%s: %v: %s", query, err, r.body)
	}
	return p
}

func (p orderPage) ids() string {
	ids := []string{}
	for _, o := range p.Orders {
		ids = append(ids, o.ID)
	}
	return strings.Join(ids, ",")
}

// allOrders pages through GET /orders with query, limit at a time.
func (e *env) allOrders(query string, limit int) string {
	e.t.Helper()
	var ids []string
	var after uint64
	for {
		p := e.orders(fmt.Sprintf("%s&limit=%d&after=%d", query, limit, after))
		if len(p.Orders) == 0 {
			if p.Next != after {
				e.t.Fatalf("an empty page moved the cursor from %d to %d", after, p.Next)
			}
			return strings.Join(ids, ",")
		}
		if len(p.Orders) > limit {
			e.t.Fatalf("%d orders in a page of %d", len(p.Orders), limit)
		}
		ids = append(ids, strings.Split(p.ids(), ",")...)
		after = p.Next
	}
}

func TestListOrders(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		place := func(id, customer string) {
			body := placeBody(id)
			body["customer_id"] = customer
			e.expect(e.do("POST", "/orders", body), 201)
		}
		place("a", "c1")
		place("b", "c2")
		place("c", "c1")
		place("d", "c1")
		e.expect(e.do("POST", "/orders/a/payment", map[string]any{"amount": 2500, "payment_ref": "p"}), 200)
		e.expect(e.do("POST", "/orders/b/payment", map[string]any{"amount": 2500, "payment_ref": "p"}), 200)
		e.expect(e.do("POST", "/orders/b/shipment", map[string]any{"carrier": "c", "tracking": "t"}), 200)
		e.expect(e.do("POST", "/orders/c/lines", map[string]any{"sku": "SKU-2", "quantity": 1, "unit_price": 5}), 200)
		r := e.expect(e.do("POST", "/orders/d/cancellation", map[string]any{"reason": "r"}), 200)
		pos := r.header.Get("X-Position")

		r = e.expect(e.do("GET", "/orders?min_position="+pos, nil), 200)
		if r.header.Get("X-Position") != pos {
			t.Errorf("GET /orders at position %q, want %s", r.header.Get("X-Position"), pos)
		}
		var all orderPage
		if err := json.Unmarshal(r.body, &all); err != nil {
			t.Fatal(err)
		}
		if all.ids() != "a,b,c,d" {
			t.Fatalf("GET /orders: %s", r.body)
		}
		// The summary agrees with the order resource.
		for _, o := range all.Orders {
			var full struct {
				CustomerID string `json:"customer_id"`
				Status     string
				Currency   string
				Total      int64
				Version    int64
				Lines      []any
				PlacedAt   string `json:"placed_at"`
			}
			if err := json.Unmarshal(e.expect(e.do("GET", "/orders/"+o.ID, nil), 200).body, &full); err != nil {
				t.Fatal(err)
			}
			if o.CustomerID != full.CustomerID || o.Status != full.Status || o.Currency != full.Currency || o.Total != full.Total ||
				o.Version != full.Version || o.LineCount != len(full.Lines) || o.PlacedAt != full.PlacedAt {
				t.Errorf("order %s listed as %+v, is %+v", o.ID, o, full)
			}
		}
		if c := all.Orders[2]; c.Total != 2505 || c.LineCount != 2 || c.Version != 1 {
			t.Errorf("order c after a line: %+v", c)
		}

		for _, tt := range []struct{ query, want string }{
			{"customer_id=c1", "a,c,d"},
			{"customer_id=c2", "b"},
			{"customer_id=nobody", ""},
			{"status=placed", "c"},
			{"status=paid", "a"},
			{"status=shipped", "b"},
			{"status=cancelled", "d"},
			{"customer_id=c1&status=cancelled", "d"},
			{"customer_id=c2&status=placed", ""},
			{"limit=2", "a,b"},
		} {
			if got := e.orders(tt.query).ids(); got != tt.want {
				t.Errorf("GET /orders?%s = %q, want %q", tt.query, got, tt.want)
			}
		}
		first := e.orders("customer_id=c1&limit=1")
		if first.ids() != "a" {
			t.Fatalf("first page: %+v", first)
		}
		if got := e.orders(fmt.Sprintf("customer_id=c1&limit=1&after=%d", first.Next)).ids(); got != "c" {
			t.Errorf("second page: %q, want c", got)
		}
		for _, q := range []string{"", "customer_id=c1", "status=placed", "customer_id=c1&status=cancelled"} {
			want := e.orders(q).ids()
			if got := e.allOrders(q, 1); got != want {
				t.Errorf("paging %q by one: %q, want %q", q, got, want)
			}
		}

		for _, tt := range []struct{ query, field, detail string }{
			{"status=shiped", "status", `did you mean "shipped"`},
			{"status=", "status", "empty"},
			{"customer_id=", "customer_id", "empty"},
			{"limit=0", "limit", "1 to 1000"},
			{"limit=1001", "limit", "1 to 1000"},
			{"after=-1", "after", "integer"},
			{"customer=c1", "customer", `did you mean "customer_id"`},
			{"status=paid&status=placed", "status", "given 2 times"},
		} {
			r := e.expect(e.do("GET", "/orders?"+tt.query, nil), 400)
			p := r.json(t)
			if p["field"] != tt.field || !strings.Contains(fmt.Sprint(p["detail"]), tt.detail) {
				t.Errorf("GET /orders?%s: %s", tt.query, r.body)
			}
		}
	})
}

// TestListOrders_PagingWhileOrdersArrive pages through GET /orders while
// other clients place orders: every order is listed once, in the order
// placed, and none is missed.
func TestListOrders_PagingWhileOrdersArrive(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		const writers, each = 4, 15
		// placed has the X-Position of every order placed, in no order.
		placed := make(chan string, writers*each)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					body := placeBody(fmt.Sprintf("w%d-%02d", w, i))
					body["customer_id"] = fmt.Sprintf("c%d", w)
					placed <- e.expect(e.do("POST", "/orders", body), 201).header.Get("X-Position")
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()

		var (
			paged []string
			after uint64
		)
		for finished := false; ; {
			p := e.orders(fmt.Sprintf("limit=3&after=%d", after))
			for _, o := range p.Orders {
				paged = append(paged, o.ID)
			}
			after = p.Next
			if len(p.Orders) > 0 {
				continue
			}
			if finished {
				break
			}
			// Caught up with the read model: wait until it has one more
			// order, or, once every order is placed, all of them.
			select {
			case pos := <-placed:
				e.expect(e.do("GET", "/orders?limit=1&min_position="+url.QueryEscape(pos), nil), 200)
			case <-done:
				for range len(placed) {
					e.expect(e.do("GET", "/orders?limit=1&min_position="+url.QueryEscape(<-placed), nil), 200)
				}
				finished = true
			}
		}
		want := e.allOrders("", 1000)
		if got := strings.Join(paged, ","); got != want {
			t.Errorf("paged while placing:\n%s\nlisted after:\n%s", got, want)
		}
		if n := len(paged); n != writers*each {
			t.Errorf("%d orders paged, want %d", n, writers*each)
		}
		seen := map[string]bool{}
		for _, id := range paged {
			if seen[id] {
				t.Errorf("order %s paged twice", id)
			}
			seen[id] = true
		}
	})
}

func TestStockPaging(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		var pos string
		for _, sku := range []string{"C", "A", "E", "B", "D"} {
			pos = e.expect(e.do("POST", "/stock/"+sku+"/receipts", map[string]any{"quantity": 1}), 200).header.Get("X-Position")
		}
		// The default page holds every SKU and no next, as before paging.
		r := e.expect(e.do("GET", "/stock?min_position="+pos, nil), 200)
		whole := r.json(t)
		if items := whole["items"].([]any); len(items) != 5 || whole["next"] != nil {
			t.Fatalf("GET /stock: %s", r.body)
		}
		var got []string
		after, pages := "", 0
		for {
			q := "/stock?limit=2"
			if after != "" {
				q += "&after=" + url.QueryEscape(after)
			}
			page := e.expect(e.do("GET", q, nil), 200).json(t)
			pages++
			for _, it := range page["items"].([]any) {
				got = append(got, it.(map[string]any)["sku"].(string))
			}
			next, ok := page["next"].(string)
			if !ok {
				break
			}
			after = next
		}
		if strings.Join(got, ",") != "A,B,C,D,E" || pages != 3 {
			t.Errorf("paged %v in %d pages", got, pages)
		}
		if items := e.expect(e.do("GET", "/stock?after=E", nil), 200).json(t)["items"].([]any); len(items) != 0 {
			t.Errorf("after the last SKU: %v", items)
		}
		for _, q := range []string{"limit=0", "limit=10001", "after=", "limit=x"} {
			e.expect(e.do("GET", "/stock?"+q, nil), 400)
		}
	})
}

func TestAnalyticsDailyWindow(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		pos := e.expect(e.do("POST", "/orders", placeBody("a")), 201).header.Get("X-Position")
		daily := func(query string) []any {
			t.Helper()
			r := e.expect(e.do("GET", "/analytics?min_position="+pos+query, nil), 200)
			var a struct {
				Daily       []any `json:"daily"`
				OrdersTotal int   `json:"orders_total"`
			}
			if err := json.Unmarshal(r.body, &a); err != nil || a.OrdersTotal != 1 {
				t.Fatalf("GET /analytics: %v %s", err, r.body)
			}
			return a.Daily
		}
		d := daily("")
		if len(d) != 1 {
			t.Fatalf("daily: %v", d)
		}
		today := d[0].(map[string]any)["date"].(string)
		day, err := time.Parse(time.DateOnly, today)
		if err != nil {
			t.Fatal(err)
		}
		shift := func(days int) string { return day.AddDate(0, 0, days).Format(time.DateOnly) }
		for _, tt := range []struct {
			query string
			want  int
		}{
			{"&from=" + today + "&to=" + today, 1},
			{"&from=" + shift(1), 0},
			{"&to=" + shift(-1), 0},
			{"&from=" + shift(-365), 1},
			{"&to=" + shift(365), 1},
			{"&from=" + shift(-365) + "&to=" + today, 1},
		} {
			if got := daily(tt.query); len(got) != tt.want {
				t.Errorf("GET /analytics?%s: daily %v, want %d entries", tt.query, got, tt.want)
			}
		}
		for _, tt := range []struct{ query, field string }{
			{"from=2026-13-01", "from"},
			{"to=yesterday", "to"},
			{"from=", "from"},
			{"from=2026-02-02&to=2026-02-01", "to"},
			{"from=2025-01-01&to=2026-01-02", "to"}, // 367 dates
		} {
			r := e.expect(e.do("GET", "/analytics?"+tt.query, nil), 400)
			if p := r.json(t); p["field"] != tt.field {
				t.Errorf("GET /analytics?%s: %s", tt.query, r.body)
			}
		}
		e.expect(e.do("GET", "/analytics?from=2025-01-01&to=2026-01-01", nil), 200) // 366 dates
	})
}
