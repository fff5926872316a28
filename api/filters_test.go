package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

type feedEvent struct {
	ID       string         `json:"id"`
	Position uint64         `json:"position"`
	Stream   string         `json:"stream"`
	Type     string         `json:"type"`
	Metadata map[string]any `json:"metadata"`
}

// feed reads GET /events with query q (from q's after, else 0) to its
// end, limit events a page.
func (e *env) feed(t *testing.T, q url.Values, limit int) []feedEvent {
	t.Helper()
	var out []feedEvent
	after := "0"
	if a := q.Get("after"); a != "" {
		after = a
	}
	for {
		q.Set("after", after)
		q.Set("limit", fmt.Sprint(limit))
		r := e.expect(e.do("GET", "/events?"+q.Encode(), nil), 200)
		var page struct {
			Events []feedEvent `json:"events"`
			Next   uint64      `json:"next"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		out = append(out, page.Events...)
		if len(page.Events) < limit {
			return out
		}
		after = fmt.Sprint(page.Next)
	}
}

func TestEvents_Filters(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		for i := range 6 {
			id := fmt.Sprintf("f-%d", i)
			corr := fmt.Sprintf("flow-%d", i%2)
			e.expect(e.do("POST", "/orders", placeBody(id), "X-Correlation-ID", corr), 201)
			if i%3 == 0 {
				e.expect(e.do("POST", "/orders/"+id+"/payment", map[string]any{"amount": 2500, "payment_ref": "p"}, "X-Correlation-ID", corr), 200)
			}
			e.expect(e.do("POST", "/stock/SKU-"+fmt.Sprint(i%2)+"/receipts", map[string]any{"quantity": 1}, "X-Correlation-ID", corr), 200)
		}
		all := e.feed(t, url.Values{}, 1000)
		if len(all) != 14 {
			t.Fatalf("%d events in the feed, want 14", len(all))
		}
		for _, tc := range []struct {
			query url.Values
			match func(ev feedEvent) bool
		}{
			{url.Values{"correlation_id": {"flow-1"}}, func(ev feedEvent) bool { return ev.Metadata["correlation_id"] == "flow-1" }},
			{url.Values{"type": {"OrderPaid"}}, func(ev feedEvent) bool { return ev.Type == "OrderPaid" }},
			{url.Values{"stream_prefix": {"stock-"}}, func(ev feedEvent) bool { return strings.HasPrefix(ev.Stream, "stock-") }},
			{url.Values{"stream_prefix": {"order-f-3"}}, func(ev feedEvent) bool { return ev.Stream == "order-f-3" }},
			{url.Values{"correlation_id": {"flow-0"}, "type": {"OrderPlaced"}}, func(ev feedEvent) bool {
				return ev.Metadata["correlation_id"] == "flow-0" && ev.Type == "OrderPlaced"
			}},
			{url.Values{"correlation_id": {"flow-0"}, "stream_prefix": {"stock-"}, "type": {"StockReceived"}}, func(ev feedEvent) bool {
				return ev.Metadata["correlation_id"] == "flow-0" && strings.HasPrefix(ev.Stream, "stock-")
			}},
			{url.Values{"correlation_id": {"nobody"}}, func(feedEvent) bool { return false }},
		} {
			var want []string
			for _, ev := range all {
				if tc.match(ev) {
					want = append(want, ev.ID)
				}
			}
			got := e.feed(t, tc.query, 2)
			if len(got) != len(want) {
				t.Fatalf("%s: %d events, want %d", tc.query.Encode(), len(got), len(want))
			}
			for i := range got {
				if got[i].ID != want[i] {
					t.Fatalf("%s: event %d is %s, want %s", tc.query.Encode(), i, got[i].ID, want[i])
				}
			}
		}

		for _, bad := range []string{"correlation_id=", "type=a%20b", "stream_prefix=%24all", "correlation_id=" + strings.Repeat("x", 129), "type=%C3%A9"} {
			r := e.expect(e.do("GET", "/events?"+bad, nil), 400)
			if p := r.json(t); p["code"] != "invalid_query" || p["field"] == nil {
				t.Fatalf("%s: %s", bad, r.body)
			}
		}
	})
}
