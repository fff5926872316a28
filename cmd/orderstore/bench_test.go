package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func runBench(t *testing.T, args ...string) (benchReport, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), append([]string{"bench"}, args...), noenv, &out, &errOut)
	var rep benchReport
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		t.Fatalf("bench %v: report is not JSON (%v), run: %v\nstdout:\n%s\nstderr:\n%s", args, jerr, err, out.String(), errOut.String())
	}
	return rep, errOut.String(), err
}

// addrWriter is serve's stderr for load tests: it finds the listening
// address, then keeps only what follows at warn level or above, so that a
// log line per request costs nothing (startServe rescans all it keeps).
type addrWriter struct {
	mu    sync.Mutex
	addr  chan string
	found bool
	warn  bytes.Buffer
}

func (w *addrWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.found {
		if m := listeningRe.FindSubmatch(p); m != nil {
			w.found = true
			w.addr <- string(m[1])
		}
	}
	if bytes.Contains(p, []byte("level=WARN")) || bytes.Contains(p, []byte("level=ERROR")) {
		w.warn.Write(p)
	}
	return len(p), nil
}

func (w *addrWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.warn.String()
}

// startQuietServe runs serve over a temporary directory until the test
// ends and returns its base URL. It runs under --stock-policy track: the
// bench's workload predicts each order's versions and ships paid orders
// at once, which the fulfilment saga's own events would upset.
func startQuietServe(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stderr := &addrWriter{addr: make(chan string, 1)}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--stock-policy", "track"}, noenv, &bytes.Buffer{}, stderr)
	}()
	select {
	case addr := <-stderr.addr:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			if s := stderr.String(); s != "" {
				t.Logf("serve warnings and errors:\n%s", s)
			}
		})
		return addr
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve did not start listening")
	}
	return ""
}

func TestBench_AgainstServe(t *testing.T) {
	base := startQuietServe(t)
	const requests = 2000
	rep, stderr, err := runBench(t, "--url", base, "--requests", "2000", "--clients", "16", "--seed", "7", "--json")
	if err != nil {
		t.Fatalf("bench: %v\nerrors: %+v\nstderr:\n%s", err, rep.Errors, stderr)
	}
	if rep.Requests != requests || rep.UnexpectedErrors != 0 || len(rep.Errors) != 0 || rep.Interrupted {
		t.Fatalf("requests %d, unexpected errors %d %+v, interrupted %v; want %d, none",
			rep.Requests, rep.UnexpectedErrors, rep.Errors, rep.Interrupted, requests)
	}
	var sum, writes int64
	seen := map[string]bool{}
	for _, o := range rep.Operations {
		sum += o.Count
		seen[o.Op] = o.Count > 0
		if o.Errors != 0 || o.Count > 0 && (o.LatencyMS.P50 <= 0 || o.LatencyMS.P50 > o.LatencyMS.P99 || o.LatencyMS.P999 > o.LatencyMS.Max) {
			t.Errorf("operation %+v: errors or inconsistent latencies", o)
		}
		if slices.Contains([]string{"place", "add", "remove", "pay", "ship", "cancel", "receipt"}, o.Op) {
			writes += o.Count
		}
	}
	if sum != requests {
		t.Errorf("operations add up to %d requests, want %d", sum, requests)
	}
	for _, o := range allOps() {
		if !seen[o.String()] {
			t.Errorf("no %s in the report: %+v", o, rep.Operations)
		}
	}
	p := rep.Projections
	if !p.CaughtUp || len(p.Final) != 4 || len(p.AtEnd) != 4 {
		t.Fatalf("projections: %+v, want all four caught up", p)
	}
	for _, s := range p.Final {
		if s.Position < p.Target {
			t.Errorf("projection %s at %d, target %d", s.Name, s.Position, p.Target)
		}
	}
	// Every successful write is one event, and nobody else writes.
	if got := int64(p.Target - p.StartHead); got != writes {
		t.Errorf("the log grew by %d events for %d writes", got, writes)
	}

	// The same run as text.
	var out bytes.Buffer
	if err := run(t.Context(), []string{"bench", "--url", base, "--requests", "50", "--clients", "4", "--mix", "place=1,read=1"}, noenv, &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("text run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"50 requests", "read_order", "p99.9 ms", "all caught up"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

// A service that answers 500 makes bench exit 1 with the errors counted
// by status and problem code.
func TestBench_UnexpectedStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/projections" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"projections":[{"name":"stock","position":0,"head":0,"lag":0,"state":"live"}]}`))
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"status":500,"code":"internal","detail":"boom"}`))
	}))
	t.Cleanup(srv.Close)
	rep, _, err := runBench(t, "--url", srv.URL, "--requests", "40", "--clients", "4", "--json")
	var ue *usageError
	if err == nil || errors.As(err, &ue) {
		t.Fatalf("bench against a failing service: %v, want a plain error (exit 1)", err)
	}
	if rep.Requests != 40 || rep.UnexpectedErrors != 40 {
		t.Fatalf("requests %d, unexpected %d; want 40, 40", rep.Requests, rep.UnexpectedErrors)
	}
	var n int64
	for _, e := range rep.Errors {
		if e.Status != http.StatusInternalServerError || e.Code != "internal" || e.Detail != "boom" || e.CorrelationID == "" {
			t.Errorf("error %+v, want 500 internal boom with a correlation ID", e)
		}
		n += e.Count
	}
	if n != 40 {
		t.Errorf("errors add up to %d, want 40", n)
	}
}

// A service that dies under load ends the bench after a run of requests
// without an answer, with an error that says so, instead of a report of
// every request the dead service could not answer.
func TestBench_ServiceDies(t *testing.T) {
	var answered atomic.Int64
	dying := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/projections" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"projections":[{"name":"stock","position":0,"head":0,"lag":0,"state":"live"}]}`))
			return
		}
		if answered.Add(1) == 50 {
			once.Do(func() { close(dying) })
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":503,"code":"store_unavailable","detail":"going"}`))
	}))
	t.Cleanup(srv.Close)
	go func() {
		<-dying
		srv.Close() // refuses new connections from here on
	}()
	// Bounded so that a bench that never stops fails the test instead of
	// running for its whole --duration.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"bench", "--url", srv.URL, "--duration", "10m", "--clients", "4", "--json"}, noenv, &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("bench still running 2 minutes after the service died")
	}
	var ue *usageError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "in a row got no answer from "+srv.URL) {
		t.Fatalf("bench against a dead service: %v, want an error saying it stopped", err)
	}
	var rep benchReport
	if jerr := json.Unmarshal(out.Bytes(), &rep); jerr != nil {
		t.Fatalf("report is not JSON: %v\n%s", jerr, out.String())
	}
	if rep.Aborted == "" || rep.Interrupted {
		t.Errorf("report: aborted %q, interrupted %t; want the reason and false", rep.Aborted, rep.Interrupted)
	}
	var transport int64
	for _, e := range rep.Errors {
		if e.Status == 0 {
			transport += e.Count
		}
	}
	// An answer recorded late restarts the run, so there may be a few
	// more than minConnFailures; hammering would make it millions.
	if transport < minConnFailures || transport > 10*minConnFailures {
		t.Errorf("%d transport errors, want %d to %d", transport, minConnFailures, 10*minConnFailures)
	}
}

func TestBench_Flags(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"--clients", "0"},
		{"--clients", "x"},
		{"--duration", "0s"},
		{"--duration", "5s", "--requests", "10"},
		{"--requests", "0"},
		{"--requests", "-3"},
		{"--url", "localhost:8080"},
		{"--url", "ftp://h/"},
		{"--mix", "place=30,fly=1"},
		{"--mix", "place=-1"},
		{"--mix", "place"},
		{"--mix", "place=0,read=0"},
		{"--mix", "pay=1,pay=2"},
		{"--keepalive=maybe"},
		{"--catchup-timeout", "-1s"},
		{"extra"},
	} {
		err := run(t.Context(), append([]string{"bench"}, args...), noenv, &bytes.Buffer{}, &bytes.Buffer{})
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("bench %q: %v, want a usage error", args, err)
		}
	}
	var helpOut bytes.Buffer
	if err := run(t.Context(), []string{"bench", "--help"}, noenv, &helpOut, &bytes.Buffer{}); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, f := range []string{"-url", "ORDERSTORE_URL", "-clients", "-duration", "-requests", "-mix", "-keepalive", "-seed", "-json"} {
		if !strings.Contains(helpOut.String(), f) {
			t.Errorf("bench --help does not explain %s", f)
		}
	}
	// A service that is not there is an error, not a usage error.
	err := run(t.Context(), []string{"bench", "--url", "http://127.0.0.1:1", "--requests", "1"}, noenv, &bytes.Buffer{}, &bytes.Buffer{})
	var ue *usageError
	if err == nil || errors.As(err, &ue) {
		t.Errorf("bench of an absent service: %v, want a plain error", err)
	}
}

func TestParseMix(t *testing.T) {
	w, err := parseMix(defaultMix)
	if err != nil {
		t.Fatal(err)
	}
	if w[opPlace] != 30 || w[opReadOrder] != 5 || w[opReadStock] != 5 || w[opReadAnalytics] != 5 {
		t.Errorf("default mix = %v", w)
	}
	w, err = parseMix(" read_order=2, receipt=1 ")
	if err != nil || w[opReadOrder] != 2 || w[opReceipt] != 1 || w[opPlace] != 0 {
		t.Errorf("parseMix = %v, %v", w, err)
	}
}

// The histogram's quantiles are within 1/128 above the exact ones.
func TestHistogram_Quantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	vals := make([]int64, 100_000)
	for i := range vals {
		// Log-normal around 2 ms, with a tail and some exact small values.
		v := int64(math.Exp(rng.NormFloat64()*1.5) * 2e6)
		if i%100 == 0 {
			v = rng.Int64N(300)
		}
		vals[i] = v
		h.record(time.Duration(v))
	}
	slices.Sort(vals)
	s := h.snapshot()
	if s.total != uint64(len(vals)) || s.max != time.Duration(vals[len(vals)-1]) {
		t.Fatalf("total %d max %v, want %d %v", s.total, s.max, len(vals), time.Duration(vals[len(vals)-1]))
	}
	for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		exact := vals[max(0, int(math.Ceil(q*float64(len(vals))))-1)]
		got := int64(s.quantile(q))
		if got < exact || float64(got-exact) > float64(exact)/128+1 {
			t.Errorf("quantile %v = %d, exact %d", q, got, exact)
		}
	}
	for i := range histBuckets {
		lo, width := histBounds(i)
		if histIndex(lo) != i || histIndex(lo+width-1) != i {
			t.Fatalf("bucket %d: [%d, +%d) maps to %d, %d", i, lo, width, histIndex(lo), histIndex(lo+width-1))
		}
	}
}
