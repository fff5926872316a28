package api_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
	"github.com/orderstore/orderstore/projections"
)

// FuzzQueryAndHeaders sends arbitrary query parameters (after, limit,
// version, min_position) and headers (If-Match, Idempotency-Key,
// X-Correlation-ID) to the routes that read them. The API must not panic or
// answer 5xx (except the documented 503 projection_behind, for a
// min_position up to the head that the read model has not reached within
// the 1 ms wait; one beyond the head is a 409), must answer errors as
// problem+json, and must echo a correlation ID only if it is a sane token.
//
//	go test -run '^$' -fuzz FuzzQueryAndHeaders -fuzztime 60s ./api/
func FuzzQueryAndHeaders(f *testing.F) {
	dir := f.TempDir()
	store, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		f.Fatal(err)
	}
	models, err := projections.Open(dir, store, projections.Options{})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.Context())
	runDone := make(chan error, 1)
	go func() { runDone <- models.Run(ctx) }()
	f.Cleanup(func() {
		cancel()
		<-runDone
		if err := models.Close(); err != nil {
			f.Error(err)
		}
		if err := store.Close(); err != nil {
			f.Error(err)
		}
	})
	h := api.New(api.Config{Store: store, Orders: orders.New(store, orders.Options{}), ReadModels: models,
		WaitTimeout: time.Millisecond}).Handler()
	seed := httptest.NewRequest("POST", "/orders", strings.NewReader(`{"id":"f","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`))
	seed.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), seed)

	// The routes that read the fuzzed parameters and headers.
	fuzzRoutes := []struct{ method, path, body string }{
		{"GET", "/events", ""},
		{"GET", "/orders/f", ""},
		{"GET", "/stock", ""},
		{"GET", "/stock/S", ""},
		{"GET", "/analytics", ""},
		{"POST", "/orders/f/lines", `{"sku":"S","quantity":1,"unit_price":100}`},
		{"POST", "/orders/f/payment", `{"amount":1,"payment_ref":"p"}`},
		{"POST", "/stock/S/receipts", `{"quantity":1}`},
		{"POST", "/orders", `{"customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":1}]}`},
		{"DELETE", "/orders/f/lines/S", ""},
	}
	for route := range uint8(len(fuzzRoutes)) {
		f.Add(route, "0", "100", "0", "1", `"0"`, "key-1", "corr-1")
		f.Add(route, "-1", "0", "-1", "-1", `W/"0"`, "a b", "with space")
		f.Add(route, "99999999999999999999", "1001", "4611686018427387904", "4611686018427387905", `"99999999999999999999"`, strings.Repeat("k", 256), strings.Repeat("c", 129))
		f.Add(route, "0x10", "1e3", " 1", "+1", `"1`, "ключ", "\x00\r\nX-Injected: 1")
		f.Add(route, "", "", "", "", "*", "", "")
		f.Add(route, "4611686018427387904", "1000", "9223372036854775807", "0", `"0", "1"`, "\x7f", "héllo")
	}
	f.Fuzz(func(t *testing.T, route uint8, after, limit, version, minPos, ifMatch, key, corr string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		q := url.Values{}
		for name, v := range map[string]string{"after": after, "limit": limit, "version": version, "min_position": minPos} {
			if v != "" {
				q.Set(name, v)
			}
		}
		req := httptest.NewRequest(rt.method, "/", strings.NewReader(rt.body))
		req.URL.Path, req.URL.RawQuery = rt.path, q.Encode()
		if rt.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		// Set directly: the fuzzer's bytes reach the handler unfiltered.
		for name, v := range map[string]string{"If-Match": ifMatch, "Idempotency-Key": key, "X-Correlation-ID": corr} {
			if v != "" {
				req.Header[http.CanonicalHeaderKey(name)] = []string{v}
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkFuzzed(t, req, []byte(rt.body), rec)

		desc := rt.method + " " + rt.path + "?" + req.URL.RawQuery
		if rec.Code >= 500 {
			var p struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &p) //nolint:errcheck // checked below
			// The read models apply the fuzzer's own writes a moment later,
			// and the wait is 1 ms: any valid min_position may be behind.
			pos, perr := strconv.ParseInt(minPos, 10, 64)
			if p.Code != "projection_behind" || perr != nil || pos <= 0 || pos > 1<<62 {
				t.Fatalf("%s (If-Match %q, key %q): %d %s", desc, ifMatch, key, rec.Code, rec.Body)
			}
		}
		if rec.Code >= 400 {
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("%s: %d with Content-Type %q", desc, rec.Code, ct)
			}
			var p struct {
				Status int    `json:"status"`
				Code   string `json:"code"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != rec.Code || p.Code == "" {
				t.Fatalf("%s: problem body %q (%v)", desc, rec.Body, err)
			}
		}
		got := rec.Header().Get("X-Correlation-ID")
		if got == "" || len(got) > 128 || strings.IndexFunc(got, func(c rune) bool {
			return c > unicode.MaxASCII || !unicode.IsPrint(c) || c == ' '
		}) >= 0 {
			t.Fatalf("%s: X-Correlation-ID %q answered for %q is not a sane token", desc, got, corr)
		}
		if saneToken(corr) && got != corr {
			t.Fatalf("%s: X-Correlation-ID %q not echoed (got %q)", desc, corr, got)
		}
	})
}

// saneToken mirrors what the API accepts as a client's correlation ID.
func saneToken(s string) bool {
	return s != "" && len(s) <= 128 && strings.IndexFunc(s, func(c rune) bool {
		return c > unicode.MaxASCII || !unicode.IsPrint(c) || c == ' '
	}) < 0
}

// checkFuzzed validates a fuzzed exchange against the served OpenAPI
// document (api.Contract) when the fuzz function runs its seed corpus, as
// go test does, but not while fuzzing: the fuzzer would then spend its
// coverage guidance exploring the validator's branches instead of the
// API's, and run several times slower.
func checkFuzzed(t *testing.T, req *http.Request, sent []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		return
	}
	api.LoadContract(t).Check(t, api.Exchange{Request: req, RequestBody: sent,
		Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
}
