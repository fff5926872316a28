package api_test

import (
	"bytes"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestCommandsAnnounceAppends runs commands over a store whose commits
// would wait an hour for an announced append that never comes: every
// command, refused or not, must withdraw its announcement when it ends, or
// the next commit (here, of the saga-free store's next order) hangs.
func TestCommandsAnnounceAppends(t *testing.T) {
	e := variant{name: "embedded"}.openEnvWith(t, t.TempDir(), envOptions{commitHold: time.Hour})
	client := &http.Client{Timeout: 30 * time.Second}
	send := func(method, path, body string, want int) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v (a commit held for an announcement that was never withdrawn?)", method, path, err)
		}
		_ = res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s %s: status %d, want %d", method, path, res.StatusCode, want)
		}
	}
	send(http.MethodPost, "/orders", `{"id":"o-1","customer_id":"c-1","currency":"EUR","lines":[{"sku":"SKU-1","quantity":1,"unit_price":100}]}`, http.StatusCreated)
	// Refused before, during and after reading the stream: each leaves an
	// announcement behind unless it withdraws it.
	send(http.MethodPost, "/orders", `{"customer_id":`, http.StatusBadRequest)
	send(http.MethodPost, "/orders/nobody/payment", `{"amount":100,"payment_ref":"p"}`, http.StatusNotFound)
	send(http.MethodPost, "/orders", `{"id":"o-1","customer_id":"c-1","currency":"EUR","lines":[{"sku":"SKU-1","quantity":1,"unit_price":100}]}`, http.StatusConflict)
	send(http.MethodPost, "/orders/o-1/shipment", `{"carrier":"c","tracking":"t"}`, http.StatusConflict)
	// Two concurrent commands, then a receipt: each commit happens.
	var wg sync.WaitGroup
	for _, id := range []string{"o-2", "o-3"} {
		wg.Go(func() {
			send(http.MethodPost, "/orders", `{"id":"`+id+`","customer_id":"c-1","currency":"EUR","lines":[{"sku":"SKU-1","quantity":1,"unit_price":100}]}`, http.StatusCreated)
		})
	}
	wg.Wait()
	send(http.MethodPost, "/stock/SKU-1/receipts", `{"quantity":5}`, http.StatusOK)
}
