package integration

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ory/dockertest/v3/docker"
)

// The container tests run the image built from this tree (Dockerfile,
// static binary) on the embedded store, with /data on a named volume, and
// talk to it over HTTP from the host only.

func TestContainer_Lifecycle(t *testing.T) {
	p := requireDocker(t)
	t.Parallel()
	s := startService(t, p, newNetwork(t, p), newVolume(t, p))

	var health map[string]string
	s.get("/healthz", &health)
	// The service reads its tokens file: a request without a token, or
	// with an unknown one, is refused.
	s.call(http.MethodGet, "/stock", nil, "Authorization", "").wantProblem(t, http.StatusUnauthorized, "token_required")
	s.call(http.MethodGet, "/stock", nil, "Authorization", "Bearer ost_unknown").wantProblem(t, http.StatusUnauthorized, "invalid_token")

	var receipt struct {
		SKU      string `json:"sku"`
		Quantity int64  `json:"quantity"`
	}
	s.call(http.MethodPost, "/stock/sku-lc/receipts", map[string]any{"quantity": 10}).want(t, http.StatusOK, &receipt)
	if receipt.SKU != "sku-lc" || receipt.Quantity != 10 {
		t.Fatalf("stock receipt: %+v", receipt)
	}

	// Place with a client-chosen ID, add a line, pay, ship.
	var o order
	r := s.call(http.MethodPost, "/orders", map[string]any{
		"id": "lc-1", "customer_id": "cust-1", "currency": "EUR",
		"lines": []line{{SKU: "sku-lc", Quantity: 2, UnitPrice: 1250}},
	})
	r.want(t, http.StatusCreated, &o)
	if loc := r.header.Get("Location"); loc != "/orders/lc-1" {
		t.Errorf("Location %q, want /orders/lc-1", loc)
	}
	if o.ID != "lc-1" || o.Status != "placed" || o.Total != 2500 || o.Version != 0 {
		t.Fatalf("placed order: %s", r.body)
	}
	placedAt := position(t, r)

	r = s.call(http.MethodPost, "/orders/lc-1/lines", line{SKU: "sku-other", Quantity: 1, UnitPrice: 500})
	r.want(t, http.StatusOK, &o)
	if o.Total != 3000 || len(o.Lines) != 2 || o.Version != 1 || r.header.Get("ETag") != `"1"` {
		t.Fatalf("after adding a line (ETag %s): %s", r.header.Get("ETag"), r.body)
	}
	if pos := position(t, r); pos <= placedAt {
		t.Errorf("X-Position %d after %d: positions must grow", pos, placedAt)
	}

	s.call(http.MethodPost, "/orders/lc-1/payment", map[string]any{"amount": 2999, "payment_ref": "p"}).
		wantProblem(t, http.StatusUnprocessableEntity, "")
	s.call(http.MethodPost, "/orders/lc-1/payment", map[string]any{"amount": 3000, "payment_ref": "pay-1"},
		"If-Match", `"0"`).wantProblem(t, http.StatusPreconditionFailed, "version_mismatch")
	s.call(http.MethodPost, "/orders/lc-1/payment", map[string]any{"amount": 3000, "payment_ref": "pay-1"},
		"If-Match", `"1"`).want(t, http.StatusOK, &o)
	if o.Status != "paid" || o.Version != 2 {
		t.Fatalf("after payment: %+v", o)
	}
	s.call(http.MethodPost, "/orders/lc-1/lines", line{SKU: "late", Quantity: 1, UnitPrice: 1}).
		wantProblem(t, http.StatusConflict, "")
	s.call(http.MethodPost, "/orders/lc-1/shipment", map[string]any{"carrier": "dhl", "tracking": "JD0001"}).
		want(t, http.StatusOK, &o)
	if o.Status != "shipped" || o.Version != 3 {
		t.Fatalf("after shipment: %+v", o)
	}

	// A second order, placed with an Idempotency-Key (retried), then cancelled.
	place := map[string]any{"customer_id": "cust-2", "currency": "USD",
		"lines": []line{{SKU: "sku-lc", Quantity: 1, UnitPrice: 700}}}
	var o2, again order
	s.call(http.MethodPost, "/orders", place, "Idempotency-Key", "lc-key-2").want(t, http.StatusCreated, &o2)
	r = s.call(http.MethodPost, "/orders", place, "Idempotency-Key", "lc-key-2")
	r.want(t, http.StatusCreated, &again)
	if again.ID != o2.ID || again.Version != o2.Version {
		t.Fatalf("retry with the same Idempotency-Key: order %s v%d, first was %s v%d", again.ID, again.Version, o2.ID, o2.Version)
	}
	s.call(http.MethodPost, "/orders/"+o2.ID+"/cancellation", map[string]any{"reason": "no longer needed"}).
		want(t, http.StatusOK, &o2)
	if o2.Status != "cancelled" {
		t.Fatalf("after cancellation: %+v", o2)
	}
	s.call(http.MethodPost, "/orders/"+o2.ID+"/payment", map[string]any{"amount": 700, "payment_ref": "late"}).
		wantProblem(t, http.StatusConflict, "not_allowed")

	// Reads.
	var got order
	r = s.get("/orders/lc-1", &got)
	if got.Status != "shipped" || got.Version != 3 || r.header.Get("ETag") != `"3"` {
		t.Fatalf("GET /orders/lc-1 (ETag %s): %s", r.header.Get("ETag"), r.body)
	}
	if r := s.call(http.MethodGet, "/orders/lc-1", nil, "If-None-Match", `"3"`); r.status != http.StatusNotModified {
		t.Errorf("GET with If-None-Match of the current ETag: %d, want 304", r.status)
	}
	s.get("/orders/lc-1?version=1", &got)
	if got.Status != "placed" || got.Version != 1 || len(got.Lines) != 2 {
		t.Errorf("GET /orders/lc-1?version=1: %+v", got)
	}
	var evs struct {
		Events []feedEvent `json:"events"`
	}
	s.get("/orders/lc-1/events", &evs)
	var types []string
	for i, e := range evs.Events {
		types = append(types, e.Type)
		if e.Version != int64(i) || e.Stream != "order-lc-1" || e.Position == 0 || e.ID == "" || !json.Valid(e.Data) || !json.Valid(e.Metadata) {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if want := []string{"OrderPlaced", "OrderLineAdded", "OrderPaid", "OrderShipped"}; !slices.Equal(types, want) {
		t.Errorf("GET /orders/lc-1/events types %v, want %v", types, want)
	}
	log := readLog(t, s)
	if len(log) != 7 { // receipt, 4 for lc-1, placed + cancelled; the idempotent retry wrote nothing
		t.Errorf("GET /events: %d events, want 7", len(log))
	}
	if r := s.call(http.MethodGet, "/metrics", nil); r.status != http.StatusOK || !strings.Contains(string(r.body), "go_goroutines") {
		t.Errorf("GET /metrics: %d %.200s", r.status, r.body)
	}

	// Errors are problem+json.
	for _, c := range []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"unknown order", http.MethodGet, "/orders/nope", nil, http.StatusNotFound, "not_found"},
		{"malformed JSON", http.MethodPost, "/orders", rawBody(`{"customer_id":`), http.StatusBadRequest, ""},
		{"unknown field", http.MethodPost, "/orders", map[string]any{"customer_id": "c", "currency": "EUR", "colour": "red",
			"lines": []line{{SKU: "a", Quantity: 1, UnitPrice: 1}}}, http.StatusBadRequest, "unknown_field"},
		{"zero quantity", http.MethodPost, "/orders", map[string]any{"customer_id": "c", "currency": "EUR",
			"lines": []line{{SKU: "a", Quantity: 0, UnitPrice: 1}}}, http.StatusUnprocessableEntity, ""},
		{"unknown currency", http.MethodPost, "/orders", map[string]any{"customer_id": "c", "currency": "XXQ",
			"lines": []line{{SKU: "a", Quantity: 1, UnitPrice: 1}}}, http.StatusUnprocessableEntity, ""},
		{"existing order", http.MethodPost, "/orders", map[string]any{"id": "lc-1", "customer_id": "c", "currency": "EUR",
			"lines": []line{{SKU: "a", Quantity: 1, UnitPrice: 1}}}, http.StatusConflict, ""},
		{"pay unknown order", http.MethodPost, "/orders/nope/payment", map[string]any{"amount": 1, "payment_ref": "x"}, http.StatusNotFound, ""},
		{"bad query", http.MethodGet, "/events?limit=0", nil, http.StatusBadRequest, ""},
		{"no route", http.MethodGet, "/nowhere", nil, http.StatusNotFound, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := s.do(t.Context(), c.method, c.path, c.body)
			if err != nil {
				t.Fatal(err)
			}
			r.wantProblem(t, c.status, c.code)
		})
	}
	if n := len(readLog(t, s)); n != 7 {
		t.Errorf("after the rejected requests the log has %d events, want still 7", n)
	}
}

// position returns a command response's X-Position.
func position(t *testing.T, r reply) uint64 {
	t.Helper()
	p, err := strconv.ParseUint(r.header.Get("X-Position"), 10, 64)
	if err != nil || p == 0 {
		t.Fatalf("X-Position %q: want a position > 0", r.header.Get("X-Position"))
	}
	return p
}

// TestContainer_Crash kills the service (SIGKILL) under concurrent writes
// and requires, after a restart on the same volume, every acknowledged write
// and a gap-free log.
func TestContainer_Crash(t *testing.T) {
	p := requireDocker(t)
	t.Parallel()
	s := startService(t, p, newNetwork(t, p), newVolume(t, p))

	l := startLoad(t, s, 8, 400)
	l.waitTarget()
	l.halt(func() { s.signal(0) }) // SIGKILL
	if code := s.wait(); code != 137 {
		t.Errorf("exit code %d after SIGKILL, want 137", code)
	}

	s.start()
	log := readLog(t, s)
	checkAcked(t, s, l, log)
	t.Logf("after the crash: %d events, %d of them written but never acknowledged", len(log), unansweredWrites(l, log))
	checkWritable(t, s, uint64(len(log)))
}

// TestContainer_GracefulStop sends SIGTERM under concurrent writes: the
// service must finish what is in flight and exit 0, and keep every
// acknowledged write.
func TestContainer_GracefulStop(t *testing.T) {
	p := requireDocker(t)
	t.Parallel()
	s := startService(t, p, newNetwork(t, p), newVolume(t, p))

	l := startLoad(t, s, 8, 300)
	l.waitTarget()
	l.halt(func() { s.signal(docker.SIGTERM) })
	if code := s.wait(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, s.logs())
	}
	if logs := s.logs(); !strings.Contains(logs, "stopped") {
		t.Errorf("no \"stopped\" in the logs after SIGTERM:\n%s", logs)
	}

	s.start()
	log := readLog(t, s)
	checkAcked(t, s, l, log)
	// In-flight requests are finished, not dropped: nothing is in the log
	// that its client did not see acknowledged.
	if n := unansweredWrites(l, log); n != 0 {
		t.Errorf("%d writes are in the log but their requests got no answer: in-flight requests were dropped at SIGTERM", n)
	}
	checkWritable(t, s, uint64(len(log)))
}

// checkWritable requires the restarted service to take a write at the
// position after head.
func checkWritable(t *testing.T, s *service, head uint64) {
	t.Helper()
	r := s.call(http.MethodPost, "/orders", map[string]any{"customer_id": "after-restart", "currency": "EUR",
		"lines": []line{{SKU: "sku-a", Quantity: 1, UnitPrice: 100}}})
	r.want(t, http.StatusCreated, nil)
	if pos := position(t, r); pos != head+1 {
		t.Errorf("first write after restart at position %d, want %d", pos, head+1)
	}
}
