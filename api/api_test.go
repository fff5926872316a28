package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/eventstore/storetest"
	"github.com/orderstore/orderstore/fulfilment"
	"github.com/orderstore/orderstore/orders"
	"github.com/orderstore/orderstore/projections"
	"github.com/orderstore/orderstore/traces"
	"github.com/orderstore/orderstore/webhooks"
)

// env is the real API over a real embedded store in a temp directory,
// seen directly or through storetest.Sparse (see variant).
type env struct {
	t     testing.TB
	dir   string
	store eventstore.Store
	srv   *httptest.Server
	stop  func() error // stops the projections
	// With envOptions.reserve: the fulfilment saga, its clock and the read
	// models.
	saga   *fulfilment.Saga
	clock  *testClock
	models *projections.Manager
}

// variant is a shape of store the API tests run on: the embedded store
// (dense positions), or the same store behind storetest.Sparse, shaped as
// KurrentDB's log is (positions that are tokens, with irregular gaps, and
// other applications' events that the view hides), filtered to the
// streams serve asks KurrentDB for, and without an index of correlation
// IDs (storetest.Unindexed): the correlations projection serves them, as
// serve wires it on KurrentDB.
type variant struct {
	name   string
	sparse bool
}

// eachVariant runs test once on each variant, as the subtests "embedded"
// and "sparse".
func eachVariant(t *testing.T, test func(t *testing.T, v variant)) {
	t.Helper()
	for _, v := range []variant{{name: "embedded"}, {name: "sparse", sparse: true}} {
		t.Run(v.name, func(t *testing.T) { test(t, v) })
	}
}

// newEnv starts the API over a fresh store of the variant.
func (v variant) newEnv(t testing.TB) *env {
	t.Helper()
	return v.openEnv(t, t.TempDir())
}

// openEnv starts the API over the store and read models in dir; opened
// again on the same dir, it restarts them.
func (v variant) openEnv(t testing.TB, dir string) *env {
	t.Helper()
	return v.openEnvWith(t, dir, envOptions{})
}

// testWaitTimeout bounds the API's min_position waits in tests: a wait
// ends when the projection gets there, so a generous bound costs nothing
// and keeps a loaded machine from failing a test.
const testWaitTimeout = 2 * time.Minute

// envOptions change the env of a test that needs it.
type envOptions struct {
	// waitTimeout bounds min_position waits; 0 means testWaitTimeout.
	waitTimeout time.Duration
	// idle opens the read models without running the projections: they
	// stay where they are, and rebuilds stay pending.
	idle bool
	// guarded refuses internal webhook targets, as serve does without
	// --webhook-allow-private; else the tests' loopback receivers are
	// allowed.
	guarded bool
	// reserve places orders under the reserve stock policy and runs the
	// fulfilment saga (payment timeout 30m, on a clock the test moves).
	reserve bool
	// traceSources are Config.TraceSources.
	traceSources []traces.Source
	// streamHeartbeat and streamBuffer are GET /events/stream's
	// settings; 0 for the defaults.
	streamHeartbeat time.Duration
	streamBuffer    int
	// commitHold is the store's embedded.Options.CommitHold.
	commitHold time.Duration
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openEnvWith is openEnv with options.
func (v variant) openEnvWith(t testing.TB, dir string, opts envOptions) *env {
	t.Helper()
	if opts.waitTimeout == 0 {
		opts.waitTimeout = testWaitTimeout
	}
	inner, err := embedded.Open(dir, embedded.Options{CommitHold: opts.commitHold})
	if err != nil {
		t.Fatal(err)
	}
	var store eventstore.Store = inner
	if v.sparse {
		// As serve runs on KurrentDB: no correlation index in the store,
		// the correlations projection instead (apiStore below).
		store = storetest.Unindexed{Store: storetest.NewSparse(inner, domain.OrderStreamPrefix, domain.StockStreamPrefix)}
	}
	reg := prometheus.NewRegistry()
	sm := api.NewStoreMetrics(reg)
	clock := &testClock{t: time.Date(2026, 2, 3, 10, 0, 0, 0, time.UTC)}
	svcOpts := orders.Options{OnAppend: sm.ObserveAppend}
	if opts.reserve {
		svcOpts.ReserveStock, svcOpts.Now = true, clock.Now
	}
	svc := orders.New(store, svcOpts)
	models, err := projections.Open(dir, store, projections.Options{Registerer: reg, CorrelationIndex: v.sparse})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 2)
	if opts.idle {
		runDone <- nil
	} else {
		go func() { runDone <- models.Run(ctx) }()
	}
	notifier, err := webhooks.Open(dir, store, webhooks.Options{Registerer: reg, AllowPrivate: !opts.guarded,
		RetrySchedule: []time.Duration{0, time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	notifyDone := make(chan error, 1)
	go func() { notifyDone <- notifier.Run(ctx) }()
	apiStore := store
	if v.sparse {
		apiStore = projections.CorrelatedStore(store, models, opts.waitTimeout)
	}
	cfg := api.Config{Store: apiStore, Orders: svc, ReadModels: models,
		Registerer: reg, Gatherer: reg, WaitTimeout: opts.waitTimeout, Webhooks: notifier,
		TraceSources: append(slices.Clone(opts.traceSources), notifier), StreamHeartbeat: opts.streamHeartbeat, StreamBuffer: opts.streamBuffer}
	var saga *fulfilment.Saga
	if opts.reserve {
		saga = fulfilment.New(store, fulfilment.Options{Now: clock.Now, PaymentTimeout: 30 * time.Minute,
			Deadlines: models, Registerer: reg, CheckpointFile: filepath.Join(dir, fulfilment.CheckpointFileName)})
		cfg.Fulfilment = saga
		go func() { runDone <- saga.Run(ctx) }()
	}
	srv := httptest.NewServer(api.New(cfg).Handler())
	e := &env{t: t, dir: dir, store: store, srv: srv, saga: saga, clock: clock, models: models, stop: func() error {
		cancel()
		<-runDone
		if opts.reserve {
			<-runDone
		}
		<-notifyDone
		return errors.Join(models.Close(), notifier.Close())
	}}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.srv == nil {
		return
	}
	e.srv.Close()
	if err := e.stop(); err != nil {
		e.t.Errorf("close read models: %v", err)
	}
	if err := e.store.Close(); err != nil {
		e.t.Errorf("close store: %v", err)
	}
	e.srv = nil
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

// do sends a request; body is sent as is if it is a string, else as JSON.
// headers come in name, value pairs.
func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var (
		rd   io.Reader
		sent []byte
	)
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		sent = raw
	}
	if sent != nil {
		rd = bytes.NewReader(sent)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close() //nolint:errcheck // test
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, body: raw}
	e.check(req, sent, r)
	return r
}

// check validates an exchange against the served OpenAPI document (see
// api.Contract): every test that sends a request through env checks the
// answer it gets.
func (e *env) check(req *http.Request, sent []byte, r response) {
	e.t.Helper()
	api.LoadContract(e.t).Check(e.t, api.Exchange{Request: req, RequestBody: sent,
		Status: r.status, Header: r.header, Body: r.body})
}

// expect checks the status; for errors also the problem+json shape.
func (e *env) expect(r response, status int) response {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if status >= 400 {
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			e.t.Fatalf("error %d has Content-Type %q, want application/problem+json", status, ct)
		}
		p := r.json(e.t)
		if p["status"] != float64(status) || p["title"] == "" || p["type"] == nil || p["detail"] == "" {
			e.t.Fatalf("problem body lacks type/title/status/detail: %s", r.body)
		}
	}
	return r
}

func placeBody(id string) map[string]any {
	return map[string]any{
		"id": id, "customer_id": "cust-1", "currency": "EUR",
		"lines": []map[string]any{{"sku": "SKU-1", "quantity": 2, "unit_price": 1250}},
	}
}

func TestOrderLifecycle(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		r := e.expect(e.do("POST", "/orders", placeBody("o-1"), "X-Correlation-ID", "flow-42"), 201)
		if r.header.Get("Location") != "/orders/o-1" || r.header.Get("ETag") != `"0"` {
			t.Fatalf("place headers: %v", r.header)
		}
		// Positions are tokens (1 on the embedded store, an offset on
		// KurrentDB's): checked below against the events they name.
		placedAt := r.header.Get("X-Position")
		if r.header.Get("X-Correlation-ID") != "flow-42" {
			t.Fatalf("correlation id not echoed: %v", r.header)
		}
		o := r.json(t)
		if o["status"] != "placed" || o["total"] != float64(2500) || o["version"] != float64(0) || o["paid_at"] != nil {
			t.Fatalf("placed order: %s", r.body)
		}
		e.expect(e.do("POST", "/orders/o-1/lines", map[string]any{"sku": "SKU-2", "quantity": 1, "unit_price": 500}), 200)
		e.expect(e.do("POST", "/orders/o-1/lines", map[string]any{"sku": "SKU-3", "quantity": 3, "unit_price": 100}), 200)
		r = e.expect(e.do("DELETE", "/orders/o-1/lines/SKU-3", nil), 200)
		if o := r.json(t); o["total"] != float64(3000) || o["version"] != float64(3) {
			t.Fatalf("after add/add/remove: %s", r.body)
		}
		e.expect(e.do("POST", "/orders/o-1/payment", map[string]any{"amount": 2999, "payment_ref": "pay-1"}), 422)
		r = e.expect(e.do("POST", "/orders/o-1/payment", map[string]any{"amount": 3000, "payment_ref": "pay-1"}), 200)
		if o := r.json(t); o["status"] != "paid" || o["paid_at"] == nil {
			t.Fatalf("paid order: %s", r.body)
		}
		e.expect(e.do("POST", "/orders/o-1/lines", map[string]any{"sku": "SKU-9", "quantity": 1, "unit_price": 1}), 409)
		r = e.expect(e.do("POST", "/orders/o-1/shipment", map[string]any{"carrier": "DHL", "tracking": "TR-1"}), 200)
		if r.header.Get("ETag") != `"5"` {
			t.Fatalf("ship headers: %v", r.header)
		}
		shippedAt := r.header.Get("X-Position")
		e.expect(e.do("POST", "/orders/o-1/cancellation", map[string]any{"reason": "too late"}), 409)

		r = e.expect(e.do("GET", "/orders/o-1", nil), 200)
		if o := r.json(t); o["status"] != "shipped" || o["carrier"] != "DHL" || r.header.Get("ETag") != `"5"` {
			t.Fatalf("shipped order: %s", r.body)
		}
		e.expect(e.do("GET", "/orders/o-1", nil, "If-None-Match", `"5"`), 304)
		r = e.expect(e.do("GET", "/orders/o-1?version=0", nil), 200)
		if o := r.json(t); o["status"] != "placed" || o["total"] != float64(2500) || o["version"] != float64(0) {
			t.Fatalf("order as of version 0: %s", r.body)
		}
		e.expect(e.do("GET", "/orders/o-1?version=6", nil), 404)

		r = e.expect(e.do("GET", "/orders/o-1/events", nil), 200)
		var evs struct {
			Events []struct {
				Type     string         `json:"type"`
				Version  int64          `json:"version"`
				Position uint64         `json:"position"`
				Stream   string         `json:"stream"`
				Metadata map[string]any `json:"metadata"`
				Data     map[string]any `json:"data"`
			} `json:"events"`
		}
		if err := json.Unmarshal(r.body, &evs); err != nil {
			t.Fatal(err)
		}
		wantTypes := []string{"OrderPlaced", "OrderLineAdded", "OrderLineAdded", "OrderLineRemoved", "OrderPaid", "OrderShipped"}
		if len(evs.Events) != len(wantTypes) {
			t.Fatalf("%d events, want %d: %s", len(evs.Events), len(wantTypes), r.body)
		}
		for i, ev := range evs.Events {
			if ev.Type != wantTypes[i] || ev.Version != int64(i) || ev.Stream != "order-o-1" {
				t.Fatalf("event %d: %+v", i, ev)
			}
			if ev.Metadata["correlation_id"] == "" || ev.Metadata["causation_id"] == "" || ev.Metadata["schema"] != float64(1) {
				t.Fatalf("event %d metadata: %v", i, ev.Metadata)
			}
		}
		if got := fmt.Sprint(evs.Events[0].Position); got != placedAt {
			t.Fatalf("place answered X-Position %q, its event has position %s", placedAt, got)
		}
		if got := fmt.Sprint(evs.Events[5].Position); got != shippedAt {
			t.Fatalf("ship answered X-Position %q, its event has position %s", shippedAt, got)
		}
		for i := 1; i < len(evs.Events); i++ {
			if evs.Events[i].Position <= evs.Events[i-1].Position {
				t.Fatalf("event %d has position %d, not after %d", i, evs.Events[i].Position, evs.Events[i-1].Position)
			}
		}
		if evs.Events[0].Metadata["correlation_id"] != "flow-42" {
			t.Fatalf("first event's correlation_id = %v, want the request's", evs.Events[0].Metadata["correlation_id"])
		}

		// A paid order cancelled is refunded in full.
		e.expect(e.do("POST", "/orders", placeBody("o-2")), 201)
		e.expect(e.do("POST", "/orders/o-2/payment", map[string]any{"amount": 2500, "payment_ref": "p"}), 200)
		r = e.expect(e.do("POST", "/orders/o-2/cancellation", map[string]any{"reason": "changed mind"}), 200)
		if o := r.json(t); o["status"] != "cancelled" || o["refunded_amount"] != float64(2500) || o["cancel_reason"] != "changed mind" {
			t.Fatalf("cancelled order: %s", r.body)
		}
		e.expect(e.do("POST", "/orders/o-2/payment", map[string]any{"amount": 2500, "payment_ref": "p"}), 409)
	})
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		e.expect(e.do("POST", "/orders", placeBody("exists")), 201)
		e.expect(e.do("POST", "/orders", placeBody("cancelled")), 201)
		e.expect(e.do("POST", "/orders/cancelled/cancellation", map[string]any{"reason": ""}), 200)
		line := func(q any, price any) map[string]any {
			return map[string]any{"customer_id": "c", "currency": "EUR", "lines": []map[string]any{{"sku": "S", "quantity": q, "unit_price": price}}}
		}
		cases := []struct {
			name, method, path string
			body               any
			headers            []string
			status             int
			code               string
		}{
			{"malformed JSON", "POST", "/orders", `{"customer_id":`, nil, 400, "malformed_json"},
			{"not an object", "POST", "/orders", `[1,2]`, nil, 400, "malformed_json"},
			{"empty body", "POST", "/orders", ``, nil, 400, "malformed_json"},
			{"trailing data", "POST", "/orders", `{"customer_id":"c"} {}`, nil, 400, "malformed_json"},
			{"unknown field", "POST", "/orders", `{"customer_id":"c","colour":"red"}`, nil, 400, "unknown_field"},
			{"wrong type", "POST", "/orders", line("two", 1), nil, 400, "wrong_type"},
			{"fraction", "POST", "/orders", line(1.5, 1), nil, 400, "wrong_type"},
			{"overflowing money", "POST", "/orders", `{"customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":99999999999999999999999}]}`, nil, 400, "wrong_type"},
			{"invalid UTF-8", "POST", "/orders", "{\"customer_id\":\"\xff\xfe\"}", nil, 400, "malformed_json"},
			{"zero quantity", "POST", "/orders", line(0, 1), nil, 422, "invalid_value"},
			{"negative quantity", "POST", "/orders", line(-3, 1), nil, 422, "invalid_value"},
			{"negative price", "POST", "/orders", line(1, -1), nil, 422, "invalid_value"},
			{"unknown currency", "POST", "/orders", map[string]any{"customer_id": "c", "currency": "XYZ", "lines": []map[string]any{{"sku": "S", "quantity": 1, "unit_price": 1}}}, nil, 422, "invalid_value"},
			{"bad id", "POST", "/orders", placeBody("../etc/passwd"), nil, 422, "invalid_value"},
			{"existing id", "POST", "/orders", placeBody("exists"), nil, 409, "order_exists"},
			{"amount differs", "POST", "/orders/exists/payment", map[string]any{"amount": 1, "payment_ref": "p"}, nil, 422, "invalid_value"},
			{"pay cancelled", "POST", "/orders/cancelled/payment", map[string]any{"amount": 2500, "payment_ref": "p"}, nil, 409, "not_allowed"},
			{"ship unpaid", "POST", "/orders/exists/shipment", map[string]any{"carrier": "c", "tracking": "t"}, nil, 409, "not_allowed"},
			{"unknown order", "GET", "/orders/nope", nil, nil, 404, "not_found"},
			{"unknown order events", "GET", "/orders/nope/events", nil, nil, 404, "not_found"},
			{"pay unknown order", "POST", "/orders/nope/payment", map[string]any{"amount": 1, "payment_ref": "p"}, nil, 404, "not_found"},
			{"remove missing line", "DELETE", "/orders/exists/lines/NOPE", nil, nil, 422, "invalid_value"},
			{"wrong If-Match", "POST", "/orders/exists/payment", map[string]any{"amount": 2500, "payment_ref": "p"}, []string{"If-Match", `"7"`}, 412, "version_mismatch"},
			{"malformed If-Match", "POST", "/orders/exists/payment", map[string]any{"amount": 2500, "payment_ref": "p"}, []string{"If-Match", `seven`}, 400, "invalid_header"},
			{"bad Idempotency-Key", "POST", "/orders", placeBody("k"), []string{"Idempotency-Key", "has space"}, 400, "invalid_header"},
			{"huge body", "POST", "/orders", `{"customer_id":"` + strings.Repeat("x", 2<<20) + `"}`, nil, 413, "body_too_large"},
			{"form content type", "POST", "/orders", `customer_id=c`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
			{"bad version query", "GET", "/orders/exists?version=abc", nil, nil, 400, "invalid_query"},
			{"bad limit", "GET", "/events?limit=0", nil, nil, 400, "invalid_query"},
			{"limit too big", "GET", "/events?limit=100000", nil, nil, 400, "invalid_query"},
			{"negative after", "GET", "/events?after=-1", nil, nil, 400, "invalid_query"},
			{"unknown route", "GET", "/nope", nil, nil, 404, "no_route"},
			{"wrong method", "PUT", "/orders/exists/payment", nil, nil, 405, "method_not_allowed"},
			{"stock zero quantity", "POST", "/stock/SKU-1/receipts", map[string]any{"quantity": 0}, nil, 422, "invalid_value"},
			{"stock bad sku", "POST", "/stock/bad%20sku/receipts", map[string]any{"quantity": 1}, nil, 422, "invalid_value"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.expect(e.do(tc.method, tc.path, tc.body, tc.headers...), tc.status)
				if p := r.json(t); p["code"] != tc.code {
					t.Fatalf("code %v, want %s: %s", p["code"], tc.code, r.body)
				}
				if tc.status == 405 && r.header.Get("Allow") != "POST" {
					t.Fatalf("405 Allow = %q, want POST", r.header.Get("Allow"))
				}
			})
		}
		// Nothing the refused requests sent was written.
		r := e.expect(e.do("GET", "/events?limit=1000", nil), 200)
		var page struct {
			Events []map[string]any `json:"events"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 3 {
			t.Fatalf("refused requests wrote events: the log has %d, want 3", len(page.Events))
		}
	})
}

func TestIfMatch(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		e.expect(e.do("POST", "/orders", placeBody("o")), 201)
		r := e.expect(e.do("POST", "/orders/o/lines", map[string]any{"sku": "B", "quantity": 1, "unit_price": 1}, "If-Match", `"3"`), 412)
		if p := r.json(t); p["current_version"] != float64(0) {
			t.Fatalf("412 without current_version: %s", r.body)
		}
		r = e.expect(e.do("POST", "/orders/o/lines", map[string]any{"sku": "B", "quantity": 1, "unit_price": 1}, "If-Match", `"0"`), 200)
		if r.header.Get("ETag") != `"1"` {
			t.Fatalf("ETag after If-Match command: %q", r.header.Get("ETag"))
		}
	})
}

// TestConcurrentWriters: writers pinning the same version race: exactly one
// wins. Writers without If-Match are retried: none of their changes is lost.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		e.expect(e.do("POST", "/orders", placeBody("race")), 201)
		const n = 8
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := e.do("POST", "/orders/race/lines", map[string]any{"sku": fmt.Sprintf("P%d", i), "quantity": 1, "unit_price": 1}, "If-Match", `"0"`)
				statuses <- r.status
			})
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[200] != 1 || count[412] != n-1 {
			t.Fatalf("pinned writers: %v, want one 200 and %d 412", count, n-1)
		}

		for i := range n {
			wg.Go(func() {
				e.expect(e.do("POST", "/orders/race/lines", map[string]any{"sku": fmt.Sprintf("F%d", i), "quantity": 1, "unit_price": 1}), 200)
			})
		}
		wg.Wait()
		o := e.expect(e.do("GET", "/orders/race", nil), 200).json(t)
		if lines := o["lines"].([]any); len(lines) != 1+1+n {
			t.Fatalf("order has %d lines, want %d: a lost update", len(lines), 2+n)
		}
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		dir := t.TempDir()
		e := v.openEnv(t, dir)
		body := map[string]any{"customer_id": "c", "currency": "EUR", "lines": []map[string]any{{"sku": "S", "quantity": 1, "unit_price": 700}}}
		first := e.expect(e.do("POST", "/orders", body, "Idempotency-Key", "k-place"), 201)
		// The same values in another key order and spacing are the same request.
		again := e.expect(e.do("POST", "/orders", `{ "lines":[{"unit_price":700,"quantity":1,"sku":"S"}], "currency":"EUR", "customer_id":"c" }`,
			"Idempotency-Key", "k-place"), 201)
		if !bytes.Equal(first.body, again.body) || first.header.Get("Location") != again.header.Get("Location") {
			t.Fatalf("replay differs:\n%s\n%s", first.body, again.body)
		}
		if again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay not marked")
		}
		loc := first.header.Get("Location")
		pay := map[string]any{"amount": 700, "payment_ref": "p"}
		paid := e.expect(e.do("POST", loc+"/payment", pay, "Idempotency-Key", "k-pay"), 200)
		e.expect(e.do("POST", loc+"/payment", map[string]any{"amount": 700, "payment_ref": "other"}, "Idempotency-Key", "k-pay"), 422)
		receipt := e.expect(e.do("POST", "/stock/S/receipts", map[string]any{"quantity": 5}, "Idempotency-Key", "k-stock"), 200)
		e.expect(e.do("POST", "/stock/S/receipts", map[string]any{"quantity": 6}, "Idempotency-Key", "k-stock"), 422)

		// Restart: the outcomes are still replayed, nothing is written twice.
		e.close()
		e = v.openEnv(t, dir)
		if r := e.expect(e.do("POST", loc+"/payment", pay, "Idempotency-Key", "k-pay"), 200); !bytes.Equal(r.body, paid.body) {
			t.Fatalf("payment replay after restart differs:\n%s\n%s", paid.body, r.body)
		}
		if r := e.expect(e.do("POST", "/orders", body, "Idempotency-Key", "k-place"), 201); !bytes.Equal(r.body, first.body) {
			t.Fatalf("place replay after restart differs:\n%s\n%s", first.body, r.body)
		}
		if r := e.expect(e.do("POST", "/stock/S/receipts", map[string]any{"quantity": 5}, "Idempotency-Key", "k-stock"), 200); !bytes.Equal(r.body, receipt.body) {
			t.Fatalf("receipt replay after restart differs:\n%s\n%s", receipt.body, r.body)
		}
		// Concurrent retries of one new request write it once.
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { e.expect(e.do("POST", "/orders", body, "Idempotency-Key", "k-burst"), 201) })
		}
		wg.Wait()
		page := e.expect(e.do("GET", "/events", nil), 200).json(t)
		if n := len(page["events"].([]any)); n != 4 {
			t.Fatalf("the log has %d events, want 4 (place, pay, receipt, one burst place)", n)
		}
	})
}

// TestConcurrentPlace: 1,000 orders from 32 clients, all readable, each
// once in the global log, in increasing positions (without gaps on the
// embedded store, whose positions are dense).
func TestConcurrentPlace(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		const total, clients = 1000, 32
		work := make(chan int)
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for i := range work {
					e.expect(e.do("POST", "/orders", placeBody(fmt.Sprintf("c-%d", i))), 201)
				}
			})
		}
		for i := range total {
			work <- i
		}
		close(work)
		wg.Wait()
		for i := range total {
			e.expect(e.do("GET", fmt.Sprintf("/orders/c-%d", i), nil), 200)
		}
		var after, last uint64
		seen := 0
		placed := map[string]int{}
		for {
			r := e.expect(e.do("GET", fmt.Sprintf("/events?after=%d&limit=300", after), nil), 200)
			var page struct {
				Events []struct {
					Position uint64 `json:"position"`
					Stream   string `json:"stream"`
				} `json:"events"`
				Next uint64 `json:"next"`
			}
			if err := json.Unmarshal(r.body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Events) == 0 {
				break
			}
			for _, ev := range page.Events {
				seen++
				if ev.Position <= last {
					t.Fatalf("event %d has position %d, not after %d", seen, ev.Position, last)
				}
				if !v.sparse && ev.Position != uint64(seen) {
					t.Fatalf("event %d has position %d: a gap", seen, ev.Position)
				}
				last = ev.Position
				placed[ev.Stream]++
			}
			after = page.Next
		}
		if seen != total || len(placed) != total {
			t.Fatalf("the log has %d events of %d orders, want %d of %d", seen, len(placed), total, total)
		}
	})
}

func TestOperations(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		e.expect(e.do("GET", "/healthz", nil), 200)
		e.expect(e.do("GET", "/readyz", nil), 200)
		e.expect(e.do("POST", "/orders", placeBody("m")), 201)
		r := e.expect(e.do("GET", "/metrics", nil), 200)
		for _, want := range []string{
			`orderstore_http_requests_total{code="201",method="POST",route="/orders"} 1`,
			`orderstore_events_appended_total 1`,
			`orderstore_append_duration_seconds_count 1`,
		} {
			if !strings.Contains(string(r.body), want) {
				t.Fatalf("metrics lack %q", want)
			}
		}
		// A closed store: not ready, and commands get 503.
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
		e.expect(e.do("GET", "/readyz", nil), 503)
		r = e.expect(e.do("POST", "/orders", placeBody("late")), 503)
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("503 without Retry-After")
		}
	})
}

// TestEventsAfterIsAPosition: GET /events pages with the positions it
// returned, and refuses any other after with 400 invalid_position on every
// store: on the sparse one a number next to a position is none; on the
// embedded one it is beyond the head.
func TestEventsAfterIsAPosition(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		r := e.expect(e.do("POST", "/orders", placeBody("o-pos")), 201)
		pos, err := strconv.ParseUint(r.header.Get("X-Position"), 10, 64)
		if err != nil {
			t.Fatalf("X-Position %q: %v", r.header.Get("X-Position"), err)
		}
		page := e.expect(e.do("GET", "/events?after="+strconv.FormatUint(pos, 10), nil), 200).json(t)
		if evs, _ := page["events"].([]any); len(evs) != 0 || page["next"] != float64(pos) {
			t.Fatalf("after the last position: %v", page)
		}
		// The test computes a number next to a position to probe the API;
		// clients never may.
		r = e.expect(e.do("GET", "/events?after="+strconv.FormatUint(pos+1, 10), nil), 400)
		p := r.json(t)
		if p["code"] != "invalid_position" || p["field"] != "after" ||
			!strings.Contains(p["detail"].(string), "head is at "+strconv.FormatUint(pos, 10)) {
			t.Fatalf("after=%d: %s", pos+1, r.body)
		}
	})
}
