package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a goroutine-safe stderr that reports the address once the
// server logs that it listens.
type syncBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	addr chan string
}

var listeningRe = regexp.MustCompile(`msg=listening addr=(http://\S+)`)

func newSyncBuffer() *syncBuffer { return &syncBuffer{addr: make(chan string, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if m := listeningRe.FindSubmatch(b.buf.Bytes()); m != nil {
		select {
		case b.addr <- string(m[1]):
		default:
		}
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func noenv(string) string { return "" }

func TestRun_Usage(t *testing.T) {
	var out, errOut bytes.Buffer
	var ue *usageError
	if err := run(t.Context(), nil, noenv, &out, &errOut); !errors.As(err, &ue) {
		t.Fatalf("no command: %v, want a usage error", err)
	}
	if err := run(t.Context(), []string{"frobnicate"}, noenv, &out, &errOut); !errors.As(err, &ue) {
		t.Fatalf("unknown command: %v", err)
	}
	if err := run(t.Context(), []string{"serve", "--bogus"}, noenv, &out, &errOut); !errors.As(err, &ue) {
		t.Fatalf("bad flag: %v", err)
	}
	if err := run(t.Context(), []string{"serve", "--log-format", "xml"}, noenv, &out, &errOut); !errors.As(err, &ue) {
		t.Fatalf("bad log format: %v", err)
	}
	if err := run(t.Context(), []string{"serve", "--store", "postgres://x"}, noenv, &out, &errOut); !errors.As(err, &ue) {
		t.Fatalf("bad store: %v", err)
	}
	errOut.Reset()
	if err := run(t.Context(), []string{"serve", "--help"}, noenv, &out, &errOut); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, flag := range []string{"-addr", "-data", "-store", "-log-format", "ORDERSTORE_ADDR", "ORDERSTORE_DATA", "ORDERSTORE_STORE"} {
		if !strings.Contains(errOut.String(), flag) {
			t.Fatalf("serve --help does not explain %s:\n%s", flag, errOut.String())
		}
	}
}

// startServe runs serve in the background and returns its base URL and a
// function that stops it (as SIGTERM would) and returns run's error.
func startServe(t *testing.T, dir string, env map[string]string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stderr := newSyncBuffer()
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	args := []string{"serve", "--addr", "127.0.0.1:0"}
	if dir != "" {
		args = append(args, "--data", dir)
	}
	go func() { done <- run(ctx, args, getenv, &bytes.Buffer{}, stderr) }()
	select {
	case addr := <-stderr.addr:
		return addr, func() error { cancel(); return <-done }
	case err := <-done:
		cancel()
		t.Fatalf("serve exited: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("serve did not start listening:\n%s", stderr.String())
	}
	return "", nil
}

func TestServe_StartStopRestart(t *testing.T) {
	dir := t.TempDir()
	base, stop := startServe(t, dir, nil)
	res, err := http.Post(base+"/orders", "application/json", strings.NewReader(
		`{"id":"o-1","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("place: %d", res.StatusCode)
	}

	// A second process on the same directory is refused clearly.
	err = run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}, noenv, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second serve on one directory: %v, want an in-use error", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v after shutdown, want nil", err)
	}
	if err := run(t.Context(), []string{"health", "--addr", strings.TrimPrefix(base, "http://")}, noenv, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Fatalf("health of a stopped service succeeded")
	}

	// Restart through the environment fallback: the order is still there.
	base, stop = startServe(t, "", map[string]string{"ORDERSTORE_DATA": dir})
	var out bytes.Buffer
	if err := run(t.Context(), []string{"health", "--addr", strings.TrimPrefix(base, "http://")}, noenv, &out, &bytes.Buffer{}); err != nil {
		t.Fatalf("health of a running service: %v", err)
	}
	res, err = http.Get(base + "/orders/o-1")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("order after restart: %d", res.StatusCode)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
}

func TestServe_UnusableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", file}, noenv, &bytes.Buffer{}, &bytes.Buffer{})
	var ue *usageError
	if err == nil || errors.As(err, &ue) {
		t.Fatalf("data directory that is a file: %v, want a plain error (exit 1)", err)
	}
}

func TestRebuild_MissingStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	err := run(t.Context(), []string{"rebuild", "--data", dir}, noenv, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no event store") {
		t.Fatalf("rebuild of a directory without a store: %v, want a clear error", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("rebuild created %s", dir)
	}
}
