package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/orderstore/orderstore/projections"
)

// The offline rebuild shows no progress before anything is replayed, and
// ends with one line per projection, with percent and duration. (Under
// the track policy, so that the orders are the only events.)
func TestRebuild_ProgressLines(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir, map[string]string{"ORDERSTORE_STOCK_POLICY": "track"})
	for i := range 5 {
		res, err := http.Post(base+"/orders", "application/json", strings.NewReader(fmt.Sprintf(
			`{"id":"o-%d","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("place: %d", res.StatusCode)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"rebuild", "--data", dir}, noenv, &out, &errOut); err != nil {
		t.Fatalf("rebuild: %v\n%s", err, errOut.String())
	}
	logs := errOut.String()
	if strings.Contains(logs, "done=0 ") {
		t.Errorf("progress before anything was replayed:\n%s", logs)
	}
	for _, name := range []string{"stock", "analytics", "orders", "fulfilment"} {
		want := "msg=\"rebuild done\" projection=" + name + " events=5 total=5 percent=100 duration="
		if n := strings.Count(logs, want); n != 1 {
			t.Errorf("%d lines %q, want 1:\n%s", n, want, logs)
		}
	}
	if !strings.HasPrefix(out.String(), "rebuilt all in ") {
		t.Errorf("stdout %q", out.String())
	}

	// Cut off by SIGTERM, it says so and where.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := run(ctx, []string{"rebuild", "--data", dir}, noenv, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "rebuild all interrupted after") {
		t.Errorf("rebuild with its ctx ended: %v, want an interrupted error", err)
	}
}

func TestProgressPrinter(t *testing.T) {
	var lines []string
	logf := func(msg string, args ...any) {
		lines = append(lines, strings.TrimSpace(fmt.Sprintln(append([]any{msg}, args...)...)))
	}
	pp := newProgressPrinter(&bytes.Buffer{}, logf)
	pp.every = 0 // every progress is due
	for _, p := range []projections.Progress{
		{Projection: "stock", Total: 100},                                      // nothing replayed: not shown
		{Projection: "stock", Done: 40, Total: 100, Percent: 40, Rate: 10},     // shown
		{Projection: "stock", Done: 100, Total: 100, Percent: 100, Rate: 10},   // the end: finish shows it
		{Projection: "stock", Done: 103, Total: 103, Percent: 100, Rate: 10.3}, // the swap's tail
	} {
		pp.show(p)
	}
	pp.finish("rebuild done", 10*time.Second)
	want := []string{
		"rebuild progress projection stock done 40 total 100 percent 40 rate 10 eta_seconds 0",
		"rebuild done projection stock events 103 total 103 percent 100 duration 10s rate 10",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestRebuild_ProjectionNames: --projection correlations exists only with a
// KurrentDB store, and an unknown name is refused; both as usage errors
// that name the choices, before anything is opened.
func TestRebuild_ProjectionNames(t *testing.T) {
	for _, tc := range []struct{ name, says string }{
		{"correlations", "only with a KurrentDB --store"},
		{"nope", "with a KurrentDB store, also correlations"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		err := run(t.Context(), []string{"rebuild", "--data", dir, "--projection", tc.name}, noenv, &bytes.Buffer{}, &bytes.Buffer{})
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("--projection %s: %v, want a usage error saying %q", tc.name, err, tc.says)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("--projection %s left %s behind (%v)", tc.name, dir, err)
		}
	}
}
