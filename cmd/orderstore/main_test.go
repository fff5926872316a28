package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
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
	out.Reset()
	if err := run(t.Context(), []string{"serve", "--help"}, noenv, &out, &errOut); err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, flag := range []string{"-addr", "-data", "-store", "-log-format", "ORDERSTORE_ADDR", "ORDERSTORE_DATA", "ORDERSTORE_STORE"} {
		if !strings.Contains(out.String(), flag) {
			t.Fatalf("serve --help does not explain %s:\n%s", flag, out.String())
		}
	}
}

// Asked for, a command's usage goes to stdout with exit 0, as the top
// level's does; after a mistake, to stderr with exit 2.
func TestRun_HelpOnStdout(t *testing.T) {
	for _, cmd := range []string{"serve", "rebuild", "health", "bench", "version"} {
		for _, h := range []string{"--help", "-h", "-help"} {
			var out, errOut bytes.Buffer
			if err := run(t.Context(), []string{cmd, h}, noenv, &out, &errOut); err != nil {
				t.Errorf("%s %s: %v, want nil (exit 0)", cmd, h, err)
			}
			if !strings.HasPrefix(out.String(), "Usage: orderstore "+cmd) || errOut.Len() != 0 {
				t.Errorf("%s %s: stdout %q, stderr %q; want the usage on stdout only", cmd, h, out.String(), errOut.String())
			}
		}
		var out, errOut bytes.Buffer
		var ue *usageError
		if err := run(t.Context(), []string{cmd, "--bogus"}, noenv, &out, &errOut); !errors.As(err, &ue) {
			t.Errorf("%s --bogus: %v, want a usage error", cmd, err)
		}
		if out.Len() != 0 || !strings.Contains(errOut.String(), "-bogus") || !strings.Contains(errOut.String(), "Usage: orderstore "+cmd) {
			t.Errorf("%s --bogus: stdout %q, stderr %q; want the error and the usage on stderr", cmd, out.String(), errOut.String())
		}
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"--help"}, noenv, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "orderstore version") {
		t.Errorf("--help: %v, usage %q does not list version", err, out.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"version"}, noenv, &out, &errOut); err != nil {
		t.Fatalf("version: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"orderstore ", "revision:", "time:", "go:        " + runtime.Version()} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version printed %q, want %q in it", out.String(), want)
		}
	}
	var ue *usageError
	if err := run(t.Context(), []string{"version", "extra"}, noenv, &out, &errOut); !errors.As(err, &ue) {
		t.Errorf("version extra: %v, want a usage error", err)
	}
	b := buildInfo{Version: "v1.2.3", Revision: "0123456789abcdef0123", Modified: true}
	if got := b.revision(); got != "0123456789ab+dirty" {
		t.Errorf("revision %q, want 0123456789ab+dirty", got)
	}
	if got := (buildInfo{}).revision(); got != "unknown" {
		t.Errorf("revision without VCS information %q, want unknown", got)
	}
}

// serve exports which build runs as orderstore_build_info.
func TestServe_BuildInfoMetric(t *testing.T) {
	base, stop := startServe(t, t.TempDir(), nil)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	body := getMetrics(t, base)
	b := readBuildInfo()
	want := fmt.Sprintf(`orderstore_build_info{goversion=%q,revision=%q,version=%q} 1`, b.GoVersion, b.revision(), b.Version)
	if !strings.Contains(string(body), want) {
		t.Errorf("GET /metrics has no %s", want)
	}
}

// serve exports the embedded store's writer: commits, what they carried,
// and the writer's time by phase.
func TestServe_StoreWriterMetrics(t *testing.T) {
	base, stop := startServe(t, t.TempDir(), nil)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	for i := range 3 {
		res, err := http.Post(base+"/orders", "application/json", strings.NewReader(fmt.Sprintf(
			`{"id":"m-%d","customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":100}]}`, i)))
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != http.StatusCreated {
			t.Fatalf("place: %d", res.StatusCode)
		}
	}
	body := getMetrics(t, base)
	value := func(series string) float64 {
		t.Helper()
		for line := range strings.Lines(string(body)) {
			if rest, ok := strings.CutPrefix(line, series+" "); ok {
				v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				if err != nil {
					t.Fatalf("%s: %v", series, err)
				}
				return v
			}
		}
		t.Fatalf("GET /metrics has no %s", series)
		return 0
	}
	commits, events := value("orderstore_store_commits_total"), value("orderstore_store_events_written_total")
	if commits < 1 || events < 3 || value("orderstore_store_appends_committed_total") < 3 {
		t.Errorf("%v commits of %v events, want at least 1 and 3", commits, events)
	}
	for _, phase := range []string{"apply", "commit"} {
		if v := value(`orderstore_store_writer_seconds_total{phase="` + phase + `"}`); v <= 0 {
			t.Errorf("writer seconds in %s: %v, want > 0 after commits", phase, v)
		}
	}
	value(`orderstore_store_writer_seconds_total{phase="hold"}`)
}

// getMetrics returns the text of GET /metrics.
func getMetrics(t *testing.T, base string) []byte {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// A bad or busy --addr is refused before the data directory is created.
func TestServe_AddressCheckedFirst(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = busy.Close() })
	for _, tc := range []struct {
		addr  string
		usage bool
	}{
		{addr: "no-port", usage: true},
		{addr: "127.0.0.1:99999"},
		{addr: "256.0.0.1:8080"},
		{addr: busy.Addr().String()},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		// --insecure-no-auth: 256.0.0.1 is no loopback address, and the
		// listen error, not the access check, is what this test is about.
		err := run(t.Context(), []string{"serve", "--addr", tc.addr, "--data", dir, "--insecure-no-auth"}, noenv, &bytes.Buffer{}, &bytes.Buffer{})
		var ue *usageError
		if err == nil || errors.As(err, &ue) != tc.usage {
			t.Errorf("serve --addr %s: %v, want an error (usage error: %t)", tc.addr, err, tc.usage)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("serve --addr %s left %s behind (%v)", tc.addr, dir, err)
		}
	}
}

func TestListenAttrs(t *testing.T) {
	for _, tc := range []struct {
		configured, got string
		want            []any
	}{
		{"127.0.0.1:0", "127.0.0.1:41234", []any{"addr", "http://127.0.0.1:41234"}},
		{"0.0.0.0:8080", "[::]:8080", []any{"addr", "http://0.0.0.0:8080", "url", "http://127.0.0.1:8080"}},
		{":8080", "[::]:8080", []any{"addr", "http://:8080", "url", "http://127.0.0.1:8080"}},
		{"[::]:0", "[::]:5555", []any{"addr", "http://[::]:5555", "url", "http://127.0.0.1:5555"}},
		{"localhost:8080", "127.0.0.1:8080", []any{"addr", "http://localhost:8080"}},
	} {
		got := listenAttrs(tc.configured, tcpAddr(t, tc.got))
		if !slices.Equal(got, tc.want) {
			t.Errorf("listenAttrs(%s, %s) = %v, want %v", tc.configured, tc.got, got, tc.want)
		}
	}
}

func tcpAddr(t *testing.T, s string) net.Addr {
	t.Helper()
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// An offline rebuild on a directory a service has open names the online
// rebuild of the same projection, at a reachable address.
func TestRebuild_InUseHint(t *testing.T) {
	dir := t.TempDir()
	_, stop := startServe(t, dir, nil)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	for _, tc := range []struct {
		env  map[string]string
		name string
		want string
	}{
		{name: "stock", want: "curl -X POST http://127.0.0.1:8080/projections/stock/rebuild"},
		{name: "analytics", env: map[string]string{"ORDERSTORE_ADDR": "0.0.0.0:9090"},
			want: "curl -X POST http://127.0.0.1:9090/projections/analytics/rebuild"},
		{name: "all", env: map[string]string{"ORDERSTORE_ADDR": "10.1.2.3:8080"},
			want: "curl -X POST http://10.1.2.3:8080/projections/all/rebuild"},
	} {
		getenv := func(k string) string { return tc.env[k] }
		err := run(t.Context(), []string{"rebuild", "--data", dir, "--projection", tc.name}, getenv, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "<") {
			t.Errorf("rebuild --projection %s on a served directory: %v, want the hint %q", tc.name, err, tc.want)
		}
	}
}

// startServe runs serve on a loopback port in the background (on dir, if
// not empty) and returns its base URL and a function that stops it (as
// SIGTERM would) and returns run's error.
func startServe(t *testing.T, dir string, env map[string]string) (string, func() error) {
	t.Helper()
	args := []string{"--addr", "127.0.0.1:0"}
	if dir != "" {
		args = append(args, "--data", dir)
	}
	return serveArgs(t, args, env)
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
