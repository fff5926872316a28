package api_test

import (
	"net/http"
	"testing"
)

// TestHead: HEAD on a GET route answers as GET does, headers and status,
// without a body; Allow lists HEAD with GET.
func TestHead(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		e.expect(e.do("POST", "/orders", placeBody("h")), 201)
		for _, path := range []string{"/orders/h", "/orders/h/events", "/events", "/stock", "/analytics", "/projections",
			"/healthz", "/readyz", "/openapi.json", "/metrics"} {
			get := e.expect(e.do(http.MethodGet, path, nil), 200)
			head := e.do(http.MethodHead, path, nil)
			if head.status != 200 || len(head.body) != 0 || head.header.Get("Content-Type") != get.header.Get("Content-Type") ||
				head.header.Get("ETag") != get.header.Get("ETag") {
				t.Fatalf("HEAD %s: %d %v %q; GET: %v", path, head.status, head.header, head.body, get.header)
			}
		}
		// The errors of GET, without the body.
		if r := e.do(http.MethodHead, "/orders/nope", nil); r.status != 404 || len(r.body) != 0 ||
			r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("HEAD of an unknown order: %d %v", r.status, r.header)
		}
		if r := e.do(http.MethodHead, "/orders/h?version=x", nil); r.status != 400 {
			t.Fatalf("HEAD with a bad query: %d", r.status)
		}
		// Not on a command's route; and Allow lists HEAD with GET.
		if r := e.do(http.MethodHead, "/orders/h/payment", nil); r.status != 405 || r.header.Get("Allow") != "POST" {
			t.Fatalf("HEAD on a POST route: %d, Allow %q", r.status, r.header.Get("Allow"))
		}
		r := e.expect(e.do(http.MethodPut, "/orders/h", nil), 405)
		if r.header.Get("Allow") != "GET, HEAD" {
			t.Fatalf("PUT on a GET route: Allow %q, want GET, HEAD", r.header.Get("Allow"))
		}
	})
}
