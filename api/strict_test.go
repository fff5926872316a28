package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestStrictRequests: query parameters are as strict as bodies: an unknown
// one is refused, with the one it likely misspells, as is a repeated one;
// a null body and a body without Content-Type are refused too.
func TestStrictRequests(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		e.expect(e.do("POST", "/orders", placeBody("s")), 201)
		cases := []struct {
			name, method, path string
			body               any
			headers            []string
			status             int
			code, field, hint  string
		}{
			{"misspelt after", "GET", "/events?aftr=3", nil, nil, 400, "invalid_query", "aftr", `did you mean "after"?`},
			{"misspelt limit", "GET", "/events?limt=3", nil, nil, 400, "invalid_query", "limt", `did you mean "limit"?`},
			{"another case", "GET", "/stock?Min_Position=1", nil, nil, 400, "invalid_query", "Min_Position", `did you mean "min_position"?`},
			{"another route's", "GET", "/orders/s?min_position=1", nil, nil, 400, "invalid_query", "min_position", "takes version"},
			{"none taken", "GET", "/healthz?verbose=1", nil, nil, 400, "invalid_query", "verbose", "takes no query parameters"},
			{"on a command", "POST", "/orders?dry_run=1", placeBody("q"), nil, 400, "invalid_query", "dry_run", "takes no query parameters"},
			{"on a rebuild", "POST", "/projections/stock/rebuild?force=1", nil, nil, 400, "invalid_query", "force", ""},
			{"repeated", "GET", "/events?after=0&after=0", nil, nil, 400, "invalid_query", "after", "given 2 times"},
			{"repeated min_position", "GET", "/stock?min_position=1&min_position=2", nil, nil, 400, "invalid_query", "min_position", "given 2 times"},
			{"unparsable", "GET", "/events?after=%zz", nil, nil, 400, "invalid_query", "", "does not parse"},
			{"null body", "POST", "/orders/s/lines", `null`, nil, 400, "malformed_json", "", "null"},
			{"no Content-Type", "POST", "/orders/s/payment", `{"amount":2500,"payment_ref":"p"}`, []string{"Content-Type", ""}, 415, "unsupported_media_type", "", "no Content-Type"},
			{"misspelt field", "POST", "/orders", `{"custmer_id":"c"}`, nil, 400, "unknown_field", "custmer_id", `did you mean "customer_id"?`},
			{"another field's case", "POST", "/orders/s/cancellation", `{"Reason":"x"}`, nil, 400, "unknown_field", "Reason", `did you mean "reason"?`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := *e
				e.t = t
				r := e.expect(e.do(tc.method, tc.path, tc.body, tc.headers...), tc.status)
				p := r.json(t)
				if p["code"] != tc.code || tc.field != "" && p["field"] != tc.field || !strings.Contains(p["detail"].(string), tc.hint) {
					t.Fatalf("want code %s, field %q, a detail with %q: %s", tc.code, tc.field, tc.hint, r.body)
				}
			})
		}
		// What is declared is still taken, and a command without a body
		// needs no Content-Type.
		e.expect(e.do("GET", "/events?after=0&limit=10", nil), 200)
		e.expect(e.do("GET", "/orders/s?version=0", nil), 200)
		e.expect(e.do(http.MethodPost, "/projections/stock/rebuild", nil), 202)
		// Nothing refused was written.
		page := e.expect(e.do("GET", "/events", nil), 200).json(t)
		if n := len(page["events"].([]any)); n != 1 {
			t.Fatalf("the log has %d events, want 1 (place)", n)
		}
	})
}
