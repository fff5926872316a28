package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
)

// FuzzRequests sends arbitrary bodies and query strings to every command and
// query route. Whatever comes in, the API must not panic, must not answer
// 5xx, and must answer errors as problem+json.
//
//	go test -run '^$' -fuzz FuzzRequests -fuzztime 60s ./api/
func FuzzRequests(f *testing.F) {
	store, err := embedded.Open(f.TempDir(), embedded.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := store.Close(); err != nil {
			f.Error(err)
		}
	})
	h := api.New(api.Config{Store: store, Orders: orders.New(store, orders.Options{})}).Handler()
	seed := httptest.NewRequest("POST", "/orders", strings.NewReader(`{"id":"f","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`))
	h.ServeHTTP(httptest.NewRecorder(), seed)

	for _, s := range []string{
		`{"customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":1}]}`,
		`{"sku":"S","quantity":2,"unit_price":100}`, `{"amount":100,"payment_ref":"p"}`,
		`{"carrier":"c","tracking":"t"}`, `{"reason":"r"}`, `{"quantity":3}`,
		`{"lines":[{"quantity":1e400}]}`, `{"a":{"b":{"c":[[[[[]]]]]}}}`, `null`, `"x"`, `{}`, `{"id":"\u0000"}`,
	} {
		for route := range 8 {
			f.Add(uint8(route), s, "after=1&limit=5")
		}
	}
	routes := []struct{ method, path string }{
		{"POST", "/orders"}, {"POST", "/orders/f/lines"}, {"POST", "/orders/f/payment"},
		{"POST", "/orders/f/shipment"}, {"POST", "/orders/f/cancellation"}, {"POST", "/stock/S/receipts"},
		{"GET", "/events"}, {"GET", "/orders/f"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body, query string) {
		rt := routes[int(route)%len(routes)]
		target := rt.path
		if rt.method == "GET" {
			target += "?" + strings.ReplaceAll(query, "#", "")
		}
		req := httptest.NewRequest(rt.method, "/", strings.NewReader(body))
		req.URL.Path = rt.path
		if rt.method == "GET" {
			req.URL.RawQuery = strings.ReplaceAll(query, "#", "")
		}
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkFuzzed(t, req, []byte(body), rec)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q: %d %s", rt.method, target, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%d with Content-Type %q", rec.Code, ct)
			}
			var p struct {
				Status int `json:"status"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code {
				t.Fatalf("problem body %q (%v)", rec.Body, err)
			}
		} else if rec.Code != http.StatusOK && rec.Code != http.StatusCreated {
			t.Fatalf("unexpected status %d", rec.Code)
		}
	})
}
