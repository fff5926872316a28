package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
)

// TestWebhooks_Routes drives every webhook route through the API, with the
// answers checked against openapi.json, including the refusals.
func TestWebhooks_Routes(t *testing.T) {
	t.Parallel()
	e := variant{name: "embedded"}.newEnv(t)
	var (
		mu       sync.Mutex
		failing  = true
		received atomic.Int64
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(rcv.Close)

	r := e.expect(e.do("POST", "/webhooks", map[string]any{"url": rcv.URL + "/hook", "events": []string{"OrderPlaced"},
		"description": "ops", "from_position": 0}), 201)
	ep := r.json(t)
	id, _ := ep["id"].(string)
	if secret, _ := ep["secret"].(string); !strings.HasPrefix(secret, "whsec_") || r.header.Get("Location") != "/webhooks/"+id {
		t.Fatalf("created: %s, Location %q", r.body, r.header.Get("Location"))
	}
	if ep["state"] != "active" {
		t.Errorf("state %v", ep["state"])
	}
	for _, path := range []string{"/webhooks", "/webhooks/" + id} {
		if body := string(e.expect(e.do("GET", path, nil), 200).body); strings.Contains(body, "whsec_") || !strings.Contains(body, id) {
			t.Errorf("GET %s: %s", path, body)
		}
	}

	// Bad input.
	for _, tc := range []struct {
		body   any
		status int
		code   string
	}{
		{map[string]any{"url": "ftp://example.com/"}, 422, "invalid_value"},
		{map[string]any{"url": "not a url"}, 422, "invalid_value"},
		{map[string]any{}, 422, "invalid_value"},
		{map[string]any{"url": rcv.URL, "events": []string{"OrderTeleported"}}, 422, "invalid_value"},
		{map[string]any{"url": rcv.URL, "from_position": 1 << 40}, 422, "invalid_value"},
		{map[string]any{"url": rcv.URL, "secret": "whsec_mine"}, 400, "unknown_field"},
		{`{"url": 3}`, 400, "wrong_type"},
	} {
		p := e.expect(e.do("POST", "/webhooks", tc.body), tc.status).json(t)
		if p["code"] != tc.code {
			t.Errorf("POST /webhooks %v: code %v, want %s", tc.body, p["code"], tc.code)
		}
	}
	for _, path := range []string{"/webhooks/nope", "/webhooks/nope/deliveries"} {
		e.expect(e.do("GET", path, nil), 404)
	}
	for _, path := range []string{"/webhooks/nope/secret", "/webhooks/nope/pause", "/webhooks/nope/resume",
		"/webhooks/nope/dead/retry", "/webhooks/" + id + "/deliveries/msg_nope/retry"} {
		e.expect(e.do("POST", path, nil), 404)
	}
	e.expect(e.do("DELETE", "/webhooks/nope", nil), 404)
	p := e.expect(e.do("GET", "/webhooks/"+id+"/deliveries?state=lost", nil), 400).json(t)
	if p["code"] != "invalid_query" || p["field"] != "state" {
		t.Errorf("bad state filter: %v", p)
	}
	e.expect(e.do("GET", "/webhooks/"+id+"/deliveries?limit=0", nil), 400)

	// Deliveries: two orders, failing until dead (schedule of 2 attempts).
	e.expect(e.do("POST", "/orders", placeBody("w-1")), 201)
	e.expect(e.do("POST", "/orders", placeBody("w-2")), 201)
	dead := waitDeliveries(t, e, id, "dead", 2)
	first := dead[0].(map[string]any)
	if attempts := first["attempts"].([]any); len(attempts) != 2 || attempts[0].(map[string]any)["status"] != float64(500) {
		t.Errorf("dead delivery attempts: %v", first["attempts"])
	}
	page := e.expect(e.do("GET", "/webhooks/"+id+"/deliveries?limit=1", nil), 200).json(t)
	if len(page["deliveries"].([]any)) != 1 || page["next"] == nil {
		t.Errorf("first page of 1: %v", page)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	r = e.expect(e.do("POST", "/webhooks/"+id+"/deliveries/"+first["id"].(string)+"/retry", nil), 202)
	if r.json(t)["retried"] != float64(1) {
		t.Errorf("retry one: %s", r.body)
	}
	waitDeliveries(t, e, id, "delivered", 1)
	p = e.expect(e.do("POST", "/webhooks/"+id+"/deliveries/"+first["id"].(string)+"/retry", nil), 409).json(t)
	if p["code"] != "not_retryable" {
		t.Errorf("retry delivered: %v", p)
	}
	r = e.expect(e.do("POST", "/webhooks/"+id+"/dead/retry", nil, "Idempotency-Key", "k-dead"), 202)
	if r.json(t)["retried"] != float64(1) {
		t.Errorf("retry dead: %s", r.body)
	}
	if r2 := e.expect(e.do("POST", "/webhooks/"+id+"/dead/retry", nil, "Idempotency-Key", "k-dead"), 202); r2.header.Get("Idempotent-Replayed") != "true" || string(r2.body) != string(r.body) {
		t.Errorf("replayed retry: %v %s", r2.header, r2.body)
	}
	waitDeliveries(t, e, id, "delivered", 2)
	checkDeliveryTrace(t, e, "w-2", rcv.URL+"/hook", []float64{500, 500, 200})

	// Rotation, pause, resume, delete.
	r = e.expect(e.do("POST", "/webhooks/"+id+"/secret", nil, "Idempotency-Key", "k-rot"), 200)
	rotated := r.json(t)["secret"]
	if rotated == ep["secret"] || rotated == nil {
		t.Errorf("rotated secret %v", rotated)
	}
	if again := e.expect(e.do("POST", "/webhooks/"+id+"/secret", nil, "Idempotency-Key", "k-rot"), 200).json(t)["secret"]; again != rotated {
		t.Error("a replayed rotation rotated again")
	}
	p = e.expect(e.do("POST", "/webhooks/"+id+"/pause", nil, "Idempotency-Key", "k-rot"), 422).json(t)
	if p["code"] != "idempotency_key_reused" {
		t.Errorf("key reused: %v", p)
	}
	if st := e.expect(e.do("POST", "/webhooks/"+id+"/pause", nil), 200).json(t)["state"]; st != "paused" {
		t.Errorf("paused: %v", st)
	}
	if st := e.expect(e.do("POST", "/webhooks/"+id+"/resume", nil), 200).json(t)["state"]; st != "active" {
		t.Errorf("resumed: %v", st)
	}
	e.expect(e.do("DELETE", "/webhooks/"+id, nil), 204)
	e.expect(e.do("GET", "/webhooks/"+id, nil), 404)
	if n := len(e.expect(e.do("GET", "/webhooks", nil), 200).json(t)["webhooks"].([]any)); n != 0 {
		t.Errorf("%d endpoints after delete", n)
	}
	if received.Load() == 0 {
		t.Error("the receiver got nothing")
	}
	// The secrets never show in the event log.
	if body := string(e.expect(e.do("GET", "/events?limit=1000", nil), 200).body); strings.Contains(body, "whsec_") {
		t.Error("GET /events shows a secret")
	}
}

// TestWebhooks_PrivateTarget: without --webhook-allow-private, internal
// targets are refused, a name that resolves to 127.0.0.1 included.
func TestWebhooks_PrivateTarget(t *testing.T) {
	t.Parallel()
	e := variant{name: "embedded"}.openEnvWith(t, t.TempDir(), envOptions{guarded: true})
	for _, url := range []string{"http://127.0.0.1:9/", "http://localhost:9/", "http://169.254.169.254/", "http://[::1]/"} {
		p := e.expect(e.do("POST", "/webhooks", map[string]any{"url": url}), 422).json(t)
		if p["code"] != "private_target" || p["field"] != "url" {
			t.Errorf("%s: %v", url, p)
		}
	}
}

// waitDeliveries waits until endpoint id has at least k deliveries in
// state, and returns them.
func waitDeliveries(t *testing.T, e *env, id, state string, k int) []any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		got := e.expect(e.do("GET", "/webhooks/"+id+"/deliveries?state="+state, nil), 200).json(t)["deliveries"].([]any)
		if len(got) >= k {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint %s: %d deliveries %s, want %d", id, len(got), state, k)
		}
		select {
		case <-tick.C:
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
}

// TestWebhooks_Off: a server without a notifier (serve --webhooks=false)
// answers every webhook route 503 webhooks_unavailable.
func TestWebhooks_Off(t *testing.T) {
	t.Parallel()
	store, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(api.New(api.Config{Store: store, Orders: orders.New(store, orders.Options{})}).Handler())
	t.Cleanup(srv.Close)
	e := &env{t: t, store: store, srv: srv}
	for _, req := range []struct{ method, path string }{
		{"GET", "/webhooks"}, {"POST", "/webhooks"}, {"GET", "/webhooks/x"}, {"DELETE", "/webhooks/x"},
		{"POST", "/webhooks/x/pause"}, {"GET", "/webhooks/x/deliveries"}, {"POST", "/webhooks/x/dead/retry"},
	} {
		var body any
		if req.method == "POST" && req.path == "/webhooks" {
			body = map[string]any{"url": "https://example.com/"}
		}
		p := e.expect(e.do(req.method, req.path, body), 503).json(t)
		if p["code"] != "webhooks_unavailable" {
			t.Errorf("%s %s: %v", req.method, req.path, p)
		}
	}
}

// checkDeliveryTrace checks that the trace of order id shows a delivery
// node per attempt to url, with the statuses want, under the OrderPlaced
// event delivered.
func checkDeliveryTrace(t *testing.T, e *env, id, url string, want []float64) {
	t.Helper()
	var ot struct {
		Traces []struct {
			Nodes []struct {
				ID     string         `json:"id"`
				Parent *string        `json:"parent"`
				Kind   string         `json:"kind"`
				Name   string         `json:"name"`
				Detail map[string]any `json:"detail"`
			} `json:"nodes"`
		} `json:"traces"`
	}
	if err := json.Unmarshal(e.expect(e.do("GET", "/orders/"+id+"/trace", nil), 200).body, &ot); err != nil {
		t.Fatal(err)
	}
	placed := ""
	var statuses []float64
	var parents []string
	for _, tr := range ot.Traces {
		for _, n := range tr.Nodes {
			switch n.Kind {
			case "event":
				if n.Name == "OrderPlaced" {
					placed = n.ID
				}
			case "delivery":
				if n.Name != url || n.Detail["url"] != url {
					t.Errorf("delivery node %s names %q", n.ID, n.Name)
				}
				status, _ := n.Detail["status"].(float64)
				statuses = append(statuses, status)
				if n.Parent != nil {
					parents = append(parents, *n.Parent)
				}
			}
		}
	}
	if !slices.Equal(statuses, want) {
		t.Errorf("delivery attempts in the trace of %s: statuses %v, want %v", id, statuses, want)
	}
	for _, p := range parents {
		if p != placed {
			t.Errorf("a delivery node hangs under %q, want the OrderPlaced event %q", p, placed)
		}
	}
}
