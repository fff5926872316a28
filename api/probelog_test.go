package api_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orderstore/orderstore/api"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/orders"
)

// Health probes log at Debug: an orchestrator's probe every few seconds
// must not fill the Info log; other requests still log at Info.
func TestRequestLog_ProbesAtDebug(t *testing.T) {
	store, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		var logs api.LockedBuffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: level}))
		srv := httptest.NewServer(api.New(api.Config{Store: store, Orders: orders.New(store, orders.Options{}), Logger: logger}).Handler())
		for _, path := range []string{"/healthz", "/readyz", "/orders/no-such-order"} {
			res, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			_ = res.Body.Close()
		}
		srv.Close() // the handlers have returned and logged
		out := logs.String()
		for _, route := range []string{"/healthz", "/readyz"} {
			line := "level=DEBUG msg=request method=GET route=" + route + " status=200"
			if got := strings.Contains(out, "route="+route); got != (level == slog.LevelDebug) || got && !strings.Contains(out, line) {
				t.Errorf("log at %s: GET %s logged %t, want a line %q only at debug:\n%s", level, route, got, line, out)
			}
		}
		if !strings.Contains(out, "level=INFO msg=request method=GET route=/orders/{id} status=404") {
			t.Errorf("log at %s: GET /orders/{id} not logged at info:\n%s", level, out)
		}
	}
}
