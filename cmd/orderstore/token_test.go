package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newToken runs `orderstore token new` and returns the printed token and
// tokens-file line.
func newToken(t *testing.T, args ...string) (secret, line string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(t.Context(), append([]string{"token", "new"}, args...), noenv, &out, &errOut); err != nil {
		t.Fatalf("token new %v: %v\n%s", args, err, errOut.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(l, "token:"); ok {
			secret = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "tokens-file:"); ok {
			line = strings.TrimSpace(v)
		}
	}
	if secret == "" || line == "" {
		t.Fatalf("token new printed no token or line:\n%s", out.String())
	}
	return secret, line
}

// serveArgs runs serve with args in the background and returns its base URL
// and a function that stops it and returns run's error.
func serveArgs(t testing.TB, args []string, env map[string]string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	stderr := newSyncBuffer()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), func(k string) string { return env[k] }, io.Discard, stderr)
	}()
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

func send(t *testing.T, method, url, body, secret string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close() //nolint:errcheck // read only
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b, res.Header
}

// The line `token new` prints authenticates the token it prints, on a
// server that reads it from a tokens file, and the token's name is the
// actor of what it writes.
func TestTokenNew_RoundTrip(t *testing.T) {
	writer, writerLine := newToken(t, "shop-frontend", "--scope", "read,write")
	admin, adminLine := newToken(t, "--scope=admin", "ops") // NAME after the flags works too
	if writer == admin || !strings.HasPrefix(writer, "ost_") {
		t.Fatalf("tokens %q and %q", writer, admin)
	}
	if strings.Contains(writerLine, writer) {
		t.Fatalf("the tokens-file line holds the token: %s", writerLine)
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# made by orderstore token new\n"+writerLine+"\n"+adminLine+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop := serveArgs(t, []string{"--addr", "127.0.0.1:0", "--data", t.TempDir()},
		map[string]string{"ORDERSTORE_TOKENS_FILE": tokens})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})

	place := `{"id":"o-1","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`
	if code, body, h := send(t, http.MethodPost, base+"/orders", place, ""); code != http.StatusUnauthorized ||
		!strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("place without a token: %d %s", code, body)
	}
	if code, body, _ := send(t, http.MethodPost, base+"/orders", place, admin); code != http.StatusForbidden {
		t.Fatalf("place with an admin-only token: %d %s, want 403", code, body)
	}
	if code, body, _ := send(t, http.MethodPost, base+"/orders", place, writer); code != http.StatusCreated {
		t.Fatalf("place with the new token: %d %s", code, body)
	}
	if code, body, _ := send(t, http.MethodPost, base+"/projections/all/rebuild", "", admin); code != http.StatusAccepted && code != http.StatusConflict {
		t.Fatalf("rebuild with the admin token: %d %s", code, body)
	}
	code, body, _ := send(t, http.MethodGet, base+"/orders/o-1/events", "", writer)
	if code != http.StatusOK {
		t.Fatalf("events: %d %s", code, body)
	}
	var got struct {
		Events []struct{ Metadata map[string]any }
	}
	// The placement's event is the request's; the fulfilment saga may
	// have written after it (here a rejection: S has no stock), as itself.
	if err := json.Unmarshal(body, &got); err != nil || len(got.Events) == 0 || got.Events[0].Metadata["actor"] != "shop-frontend" {
		t.Fatalf("events %s (%v): want the first with metadata actor shop-frontend", body, err)
	}
	for _, e := range got.Events[1:] {
		if e.Metadata["actor"] != "fulfilment" {
			t.Fatalf("events %s: want the later ones with metadata actor fulfilment", body)
		}
	}
	if code, _, _ := send(t, http.MethodGet, base+"/readyz", "", ""); code != http.StatusOK {
		t.Fatalf("readyz without a token: %d, want open", code)
	}
}

// Without tokens, serve refuses an address other machines can reach, says
// why and how, and creates nothing; --insecure-no-auth lets it serve.
func TestServe_AccessControl(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "example.com:0"} {
		data := filepath.Join(t.TempDir(), "data")
		var errOut bytes.Buffer
		err := run(t.Context(), []string{"serve", "--addr", addr, "--data", data}, noenv, io.Discard, &errOut)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Fatalf("serve --addr %s without tokens: %v, want a usage error", addr, err)
		}
		for _, want := range []string{"without access control", "--tokens-file", "orderstore token new", "--insecure-no-auth", "127.0.0.1"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("serve --addr %s: %q does not say %q", addr, err, want)
			}
		}
		if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("serve --addr %s refused but created %s", addr, data)
		}
	}

	t.Run("Contradiction", func(t *testing.T) {
		err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
			"--tokens-file", "x", "--insecure-no-auth"}, noenv, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Fatalf("--tokens-file with --insecure-no-auth: %v, want a usage error", err)
		}
	})

	t.Run("BadTokensFile", func(t *testing.T) {
		dir := t.TempDir()
		tokens := filepath.Join(dir, "tokens")
		if err := os.WriteFile(tokens, []byte("# ok\nalice read,wirte "+strings.Repeat("0", 64)+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "data")
		err := run(t.Context(), []string{"serve", "--addr", "0.0.0.0:0", "--data", data, "--tokens-file", tokens},
			noenv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), `"wirte"`) {
			t.Fatalf("malformed tokens file: %v, want the line and the scope", err)
		}
		if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("serve refused its tokens file but created %s", data)
		}
	})

	t.Run("InsecureNoAuth", func(t *testing.T) {
		base, stop := serveArgs(t, []string{"--addr", "0.0.0.0:0", "--data", t.TempDir(), "--insecure-no-auth"}, nil)
		code, body, _ := send(t, http.MethodGet, base+"/stock", "", "")
		if err := stop(); err != nil {
			t.Error(err)
		}
		if code != http.StatusOK {
			t.Fatalf("GET /stock with --insecure-no-auth: %d %s, want open", code, body)
		}
	})
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:1": true, "[::1]:8080": true, "localhost:8080": true, "LocalHost:1": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "10.0.0.7:8080": false, "example.com:80": false,
		"localhost.example.com:1": false, "nonsense": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestToken_Usage(t *testing.T) {
	for _, args := range [][]string{{"token", "--help"}, {"token", "new", "--help"}, {"token", "new", "-h"}} {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), args, noenv, &out, &errOut); err != nil {
			t.Errorf("%v: %v, want exit 0", args, err)
		}
		if !strings.HasPrefix(out.String(), "Usage: orderstore token new") || !strings.Contains(out.String(), "admin") || errOut.Len() != 0 {
			t.Errorf("%v: stdout %q, stderr %q", args, out.String(), errOut.String())
		}
	}
	for _, args := range [][]string{
		{"token"}, {"token", "old"}, {"token", "new"}, {"token", "new", "x"}, {"token", "new", "x", "--scope", "root"},
		{"token", "new", "a b", "--scope", "read"}, {"token", "new", "x", "--scope", "read", "extra"},
	} {
		var ue *usageError
		if err := run(t.Context(), args, noenv, io.Discard, io.Discard); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
