package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orderstore/orderstore/webhooks"
)

// TestServe_Webhooks registers a webhook through a running serve and gets
// an order's event delivered to a loopback receiver (allowed by
// --webhook-allow-private); without the flag the receiver is refused.
func TestServe_Webhooks(t *testing.T) {
	got := make(chan string, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("webhook-id")
	}))
	t.Cleanup(rcv.Close)
	dir := t.TempDir()
	base, stop := serveArgs(t, []string{"--addr", "127.0.0.1:0", "--data", dir, "--webhook-allow-private",
		"--webhook-retry-schedule", "0s,10ms"}, nil)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	post := func(path, body string) int {
		t.Helper()
		res, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	if status := post("/webhooks", `{"url":"`+rcv.URL+`"}`); status != http.StatusCreated {
		t.Fatalf("register: %d", status)
	}
	if status := post("/orders", `{"id":"o-1","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`); status != http.StatusCreated {
		t.Fatalf("place: %d", status)
	}
	select {
	case id := <-got:
		if !strings.HasPrefix(id, "msg_") {
			t.Errorf("webhook-id %q", id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery")
	}
	if _, err := os.Stat(filepath.Join(dir, "webhooks.key")); err != nil {
		t.Errorf("no generated key file: %v", err)
	}
}

func TestServe_WebhookFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--webhook-retry-schedule", "0s,soon"},
		{"--webhook-retry-schedule", "-1s"},
		{"--webhook-timeout", "0s"},
	} {
		err := run(t.Context(), append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, args...), noenv, &bytes.Buffer{}, &bytes.Buffer{})
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if got := formatSchedule(webhooks.DefaultRetrySchedule); got != "0s,5s,5m,30m,2h,5h,10h,10h" {
		t.Errorf("default schedule shows as %q", got)
	}
	if s, err := parseSchedule("0s, 1m30s,2h"); err != nil || len(s) != 3 || s[1] != 90*time.Second {
		t.Errorf("parseSchedule: %v, %v", s, err)
	}
}
