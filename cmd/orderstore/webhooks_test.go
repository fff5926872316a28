package main

import (
	"bytes"
	"context"
	"errors"
	"io"
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

// TestNotify runs the deliverer alone: its /webhooks routes register an
// endpoint, an order placed through it is delivered, and a second
// deliverer on the same data directory is refused.
func TestNotify(t *testing.T) {
	got := make(chan string, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("webhook-id")
	}))
	t.Cleanup(rcv.Close)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	stderr := newSyncBuffer()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"notify", "--addr", "127.0.0.1:0", "--data", dir, "--webhook-allow-private"}, noenv, io.Discard, stderr)
	}()
	var base string
	select {
	case base = <-stderr.addr:
	case err := <-done:
		cancel()
		t.Fatalf("notify exited: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("notify did not start listening:\n%s", stderr.String())
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("notify: %v", err)
		}
	})
	for _, req := range []struct{ path, body string }{
		{"/webhooks", `{"url":"` + rcv.URL + `"}`},
		{"/orders", `{"id":"o-1","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`},
	} {
		res, err := http.Post(base+req.path, "application/json", strings.NewReader(req.body))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("POST %s: %d", req.path, res.StatusCode)
		}
	}
	select {
	case <-got:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery")
	}
	err := run(t.Context(), []string{"notify", "--addr", "127.0.0.1:0", "--data", dir}, noenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second notify on the same data: %v, want an in-use error", err)
	}
}
