package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"

	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
	"github.com/orderstore/orderstore/projections"
)

// authFixture is the real API over an embedded store in a temp directory,
// with its projections running, and one token per scope.
type authFixture struct {
	cfg     Config
	secrets map[string]string // identity → secret: "read", "write", "admin", "all"
}

func newAuthFixture(t *testing.T) *authFixture {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	models, err := projections.Open(dir, store, projections.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- models.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if err := models.Close(); err != nil {
			t.Errorf("close read models: %v", err)
		}
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	f := &authFixture{secrets: map[string]string{}}
	var lines []string
	for name, scopes := range map[string][]Scope{
		"read": {ScopeRead}, "write": {ScopeWrite}, "admin": {ScopeAdmin},
		"all": {ScopeRead, ScopeWrite, ScopeAdmin},
	} {
		secret, tok, err := GenerateToken(name, scopes)
		if err != nil {
			t.Fatal(err)
		}
		f.secrets[name] = secret
		lines = append(lines, tok.Line())
	}
	tokens, err := ParseTokens(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = Config{Store: store, Orders: orders.New(store, orders.Options{}), ReadModels: models, Tokens: tokens}
	return f
}

// routeVar matches a path variable of a route template, {name} or
// {name:pattern}.
var routeVar = regexp.MustCompile(`\{([^}:]+)(?::[^}]*)?\}`)

// samplePath fills a route template's variables with plausible values.
func samplePath(tpl string) string {
	return routeVar.ReplaceAllStringFunc(tpl, func(v string) string {
		switch routeVar.FindStringSubmatch(v)[1] {
		case "id":
			return "o-auth"
		case "sku":
			return "SKU-AUTH"
		case "name":
			return "stock"
		}
		return "x"
	})
}

// documentedAccess reads the access an operation documents: open (security
// []), a scope, or configurable (an empty requirement beside a scoped one:
// open by default, the scope when the server is asked to protect it).
func documentedAccess(t *testing.T, key string, op map[string]any) (open, configurable bool, scope Scope) {
	t.Helper()
	sec, ok := op["security"].([]any)
	if !ok {
		t.Fatalf("%s: no security in openapi.json: document the scope it needs "+
			`("security": [{"bearerAuth": ["read"|"write"|"admin"]}], or [] for an open route)`, key)
	}
	if len(sec) == 0 {
		return true, false, ""
	}
	for _, req := range sec {
		m, _ := req.(map[string]any)
		if len(m) == 0 {
			configurable = true
			continue
		}
		scopes, _ := m["bearerAuth"].([]any)
		if len(m) != 1 || len(scopes) != 1 {
			t.Fatalf("%s: security %v: want one bearerAuth requirement with one scope", key, sec)
		}
		scope = Scope(scopes[0].(string))
	}
	if scope == "" {
		t.Fatalf("%s: security %v names no scope", key, sec)
	}
	return false, configurable, scope
}

// TestAuth_Matrix sends every route of the router (walked, so that a new
// route cannot be left out) with no token, an unknown token and a token of
// each scope, and checks the answer against the security that route's
// OpenAPI operation documents: 401 without a valid token, 403 without the
// scope, and past access control (any other status) with it.
func TestAuth_Matrix(t *testing.T) {
	f := newAuthFixture(t)
	ops := operations(t, loadOpenAPI(t))
	wrong, _, err := GenerateToken("stranger", []Scope{ScopeRead, ScopeWrite, ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	for _, metricsAuth := range []bool{false, true} {
		cfg := f.cfg
		cfg.MetricsAuth = metricsAuth
		s := New(cfg)
		name := "MetricsOpen"
		if metricsAuth {
			name = "MetricsAuth"
		}
		t.Run(name, func(t *testing.T) {
			n := 0
			err := s.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
				tpl, err := route.GetPathTemplate()
				if err != nil {
					return err
				}
				methods, err := route.GetMethods()
				if err != nil {
					t.Errorf("route %s has no methods: every route must name them, so that its scope is known", tpl)
					return nil
				}
				for _, method := range methods {
					key := method + " " + tpl
					op, ok := ops[key]
					if !ok && method == http.MethodHead {
						op, ok = ops["GET "+tpl]
					}
					if !ok {
						t.Errorf("%s is routed but not documented in openapi.json", key)
						continue
					}
					open, configurable, scope := documentedAccess(t, key, op)
					open = open || (configurable && !metricsAuth)
					n++
					checkAccess(t, s, method, samplePath(tpl), key, open, scope, f.secrets, wrong)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n < 15 {
				t.Fatalf("walked %d routes: the walk is broken", n)
			}
		})
	}
}

// checkAccess sends one route with each identity and checks the answers.
func checkAccess(t *testing.T, s *Server, method, path, key string, open bool, scope Scope, secrets map[string]string, wrong string) {
	t.Helper()
	send := func(auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if key == "GET /events/stream" || key == "HEAD /events/stream" {
			// A stream runs until its client goes: this one has gone
			// already, so that the answer ends once access is decided.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			req = req.WithContext(ctx)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		LoadContract(t).Check(t, Exchange{Request: req, Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
		return rec
	}
	passed := func(who string, rec *httptest.ResponseRecorder) {
		t.Helper()
		if rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden {
			t.Errorf("%s with %s: %d %s, want past access control", key, who, rec.Code, rec.Body)
		}
	}
	refused := func(who string, rec *httptest.ResponseRecorder, status int, code, challenge string) {
		t.Helper()
		if rec.Code != status {
			t.Errorf("%s with %s: %d %s, want %d", key, who, rec.Code, rec.Body, status)
			return
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != challenge {
			t.Errorf("%s with %s: WWW-Authenticate %q, want %q", key, who, got, challenge)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s with %s: Content-Type %q, want application/problem+json", key, who, ct)
		}
		var p Problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); method != http.MethodHead && (err != nil || p.Code != code || p.Status != status) {
			t.Errorf("%s with %s: body %s, want a problem with code %s", key, who, rec.Body, code)
		}
		for _, secret := range append([]string{wrong}, slices.Collect(maps.Values(secrets))...) {
			if strings.Contains(rec.Body.String(), secret) {
				t.Errorf("%s with %s: the answer echoes a token", key, who)
			}
		}
	}

	if open {
		passed("no token", send(""))
		passed("an unknown token", send("Bearer "+wrong))
		for who, secret := range secrets {
			passed("token "+who, send("Bearer "+secret))
		}
		return
	}
	realm := `Bearer realm="orderstore"`
	refused("no token", send(""), http.StatusUnauthorized, "token_required", realm)
	refused("Basic credentials", send("Basic dXNlcjpwYXNz"), http.StatusUnauthorized, "token_required", realm)
	refused("an unknown token", send("Bearer "+wrong), http.StatusUnauthorized, "invalid_token", realm+`, error="invalid_token"`)
	refused("an empty bearer token", send("Bearer "), http.StatusUnauthorized, "invalid_token", realm+`, error="invalid_token"`)
	for _, sc := range []Scope{ScopeRead, ScopeWrite, ScopeAdmin} {
		rec := send("Bearer " + secrets[string(sc)])
		if sc == scope {
			passed("scope "+string(sc), rec)
		} else {
			refused("scope "+string(sc), rec, http.StatusForbidden, "insufficient_scope",
				realm+`, error="insufficient_scope", scope="`+string(scope)+`"`)
		}
	}
	passed("every scope", send("bearer "+secrets["all"])) // the scheme is case-insensitive
}

// LockedBuffer is a log destination safe for the server's goroutines,
// for the tests of both api and api_test.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAuth_Actor checks that the token's name, never the token, is in the
// request log and in the metadata of the events the request wrote.
func TestAuth_Actor(t *testing.T) {
	f := newAuthFixture(t)
	var logs LockedBuffer
	cfg := f.cfg
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	h := New(cfg).Handler()
	send := func(method, path, body, secret string, headers ...string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		LoadContract(t).Check(t, Exchange{Request: req, RequestBody: []byte(body), Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
		return rec
	}
	place := `{"id":"o-actor","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`
	if rec := send(http.MethodPost, "/orders", place, f.secrets["write"]); rec.Code != http.StatusCreated {
		t.Fatalf("place: %d %s", rec.Code, rec.Body)
	}
	// A keyed command records the actor too (and its replay changes nothing).
	for range 2 {
		if rec := send(http.MethodPost, "/orders/o-actor/payment", `{"amount":100,"payment_ref":"p"}`, f.secrets["all"],
			"Idempotency-Key", "k-actor"); rec.Code != http.StatusOK {
			t.Fatalf("pay: %d %s", rec.Code, rec.Body)
		}
	}
	rec := send(http.MethodGet, "/orders/o-actor/events", "", f.secrets["read"])
	if rec.Code != http.StatusOK {
		t.Fatalf("events: %d %s", rec.Code, rec.Body)
	}
	var got struct {
		Events []struct {
			Type     string
			Metadata map[string]any
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"write", "all"}
	if len(got.Events) != len(want) {
		t.Fatalf("events: %s, want %d", rec.Body, len(want))
	}
	for i, e := range got.Events {
		if e.Metadata["actor"] != want[i] {
			t.Errorf("%s: metadata actor %v, want %q", e.Type, e.Metadata["actor"], want[i])
		}
	}

	log := logs.String()
	for _, w := range []string{"actor=write", "actor=all", "actor=read"} {
		if !strings.Contains(log, w) {
			t.Errorf("request log lacks %s:\n%s", w, log)
		}
	}
	for who, secret := range f.secrets {
		if strings.Contains(log, secret) || strings.Contains(rec.Body.String(), secret) {
			t.Errorf("token %s appears in the log or an answer", who)
		}
	}
}

// TestAuth_Off checks that without tokens every route is open, whatever
// Authorization says: the API tests build their servers that way.
func TestAuth_Off(t *testing.T) {
	f := newAuthFixture(t)
	cfg := f.cfg
	cfg.Tokens = nil
	h := New(cfg).Handler()
	for _, auth := range []string{"", "Bearer nonsense", "Basic dXNlcjpwYXNz"} {
		req := httptest.NewRequest(http.MethodGet, "/stock", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		LoadContract(t).Check(t, Exchange{Request: req, Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
		if rec.Code != http.StatusOK {
			t.Errorf("GET /stock with %q and no tokens: %d %s", auth, rec.Code, rec.Body)
		}
	}
}
