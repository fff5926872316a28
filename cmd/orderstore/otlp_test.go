package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP collector in the test: it decodes the
// protobuf export requests serve sends and hands over their spans.
func otlpReceiver(t *testing.T) (string, <-chan *tracepb.Span) {
	t.Helper()
	spans := make(chan *tracepb.Span, 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP request %s %s (%s), want POST /v1/traces of protobuf", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			t.Errorf("OTLP body does not decode: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					spans <- s
				}
			}
		}
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{}) //nolint:errcheck // an empty message
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out) //nolint:errcheck // test
	}))
	t.Cleanup(srv.Close)
	return srv.URL, spans
}

// TestServe_OTLP: with an OTLP endpoint, a request that sends a
// traceparent yields its server span (a child of the client's), the append
// span under it, and projection batch spans linked to the append span,
// all received by a collector over OTLP/HTTP.
func TestServe_OTLP(t *testing.T) {
	endpoint, spans := otlpReceiver(t)
	base, stop := startServe(t, t.TempDir(), map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
	// Projections trace their live batches: wait until they follow live
	// (an order placed while they replay history is applied untraced).
	at := post(t, base+"/orders", `{"id":"o-first","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`)
	for _, path := range []string{"/stock", "/analytics", "/orders"} {
		getOK(t, base+path+"?min_position="+at)
	}
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/orders", strings.NewReader(
		`{"id":"o-otel","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+parent+"-01")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("place: %d", res.StatusCode)
	}

	hexID := func(b []byte) string { return hex.EncodeToString(b) }
	var (
		server, appendSpan *tracepb.Span
		batches            []*tracepb.Span
	)
	// linked names the projections with a batch span linked to the
	// append span.
	linked := func() map[string]bool {
		out := map[string]bool{}
		for _, b := range batches {
			for _, l := range b.GetLinks() {
				if appendSpan != nil && hexID(l.GetTraceId()) == traceID && bytes.Equal(l.GetSpanId(), appendSpan.GetSpanId()) {
					out[b.GetName()] = true
				}
			}
		}
		return out
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for server == nil || appendSpan == nil || len(linked()) < 3 {
		select {
		case s := <-spans:
			switch {
			case s.GetName() == "POST /orders" && hexID(s.GetTraceId()) == traceID:
				server = s
			case s.GetName() == "eventstore.append" && hexID(s.GetTraceId()) == traceID:
				appendSpan = s
			case strings.HasPrefix(s.GetName(), "projection "):
				batches = append(batches, s)
			}
		case <-ctx.Done():
			t.Fatalf("spans not received: server %v, append %v, projections linked %v", server != nil, appendSpan != nil, linked())
		}
	}
	if hexID(server.GetParentSpanId()) != parent || server.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("server span's parent %x (kind %v), want the client's %s", server.GetParentSpanId(), server.GetKind(), parent)
	}
	if !bytes.Equal(appendSpan.GetParentSpanId(), server.GetSpanId()) {
		t.Errorf("append span's parent %x, want the server span %x", appendSpan.GetParentSpanId(), server.GetSpanId())
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

func TestServe_OTLPEndpointChecked(t *testing.T) {
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--otlp-endpoint", "collector:4318"},
		noenv, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), "otlp-endpoint") {
		t.Fatalf("serve with an endpoint that is no URL: %v", err)
	}
}

// post places an order and returns its X-Position.
func post(t *testing.T, url, body string) string {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %d", url, res.StatusCode)
	}
	return res.Header.Get("X-Position")
}

func getOK(t *testing.T, url string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, res.StatusCode)
	}
}
