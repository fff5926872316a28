package campaign

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startWait bounds a start of the binary up to a ready /readyz.
	startWait = 30 * time.Second
	// stopWait bounds a graceful stop (SIGTERM) and an offline rebuild.
	stopWait = 60 * time.Second
)

// build is the binary every test runs, built once on first use into a
// directory that TestMain removes.
var build struct {
	dir  string
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orderstore-campaign-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build.dir = dir
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = max(code, 1)
	}
	os.Exit(code)
}

// binary returns the path of the orderstore binary, building it on first
// use, or skips t in -short mode.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the tests that build and run the orderstore binary")
	}
	build.once.Do(func() {
		path := filepath.Join(build.dir, "orderstore")
		args := []string{"build", "-o", path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/orderstore/orderstore/cmd/orderstore")
		start := time.Now()
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
			return
		}
		build.path = path
		t.Logf("built the binary in %s (race: %v)", time.Since(start).Round(time.Millisecond), raceEnabled)
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// server is a running "orderstore serve" process.
type server struct {
	t    testing.TB
	dir  string
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	addr string // 127.0.0.1:port
	log  *processLog
	done chan struct{} // closed once the process has exited and err is set
	err  error         // what Wait returned
}

// startServer starts serve on dir, on a free loopback port, and waits until
// /readyz answers 200. The process is killed at the end of the test if it is
// still running.
func startServer(t testing.TB, bin, dir string) *server {
	t.Helper()
	log := newProcessLog()
	cmd := newServeCmd(bin, dir)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, dir: dir, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
			<-s.done
		}
	})
	deadline := time.After(startWait)
	select {
	case s.url = <-log.addr:
		s.addr = strings.TrimPrefix(s.url, "http://")
	case <-s.done:
		t.Fatalf("serve exited before listening: %v\n%s", s.err, log)
	case <-deadline:
		t.Fatalf("serve did not listen within %s:\n%s", startWait, log)
	}
	if err := s.waitReady(deadline); err != nil {
		t.Fatal(err)
	}
	return s
}

// newServeCmd is serve on dir, on a free loopback port, logging JSON.
func newServeCmd(bin, dir string) *exec.Cmd {
	// Under the track policy: the campaign's model of the stock figures
	// follows the order events, without the fulfilment saga.
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", dir, "--log-format", "json", "--stock-policy", "track")
	cmd.Stdout = io.Discard
	return cmd
}

// waitReady polls /readyz until it answers 200, the process exits or the
// deadline fires.
func (s *server) waitReady(deadline <-chan time.Time) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		res, err := http.Get(s.url + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(res.Body) //nolint:errcheck // diagnostics only
			_ = res.Body.Close()            //nolint:errcheck // read-only
			if res.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", res.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case <-tick.C:
		case <-s.done:
			return fmt.Errorf("serve exited while waiting for /readyz: %v\n%s", s.err, s.log)
		case <-deadline:
			return fmt.Errorf("/readyz not 200 in time (last: %s)\n%s", last, s.log)
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Fatal(err)
	}
	<-s.done
}

// stop sends SIGTERM and requires a clean exit (status 0) in time.
func (s *server) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(stopWait):
		s.t.Fatalf("serve did not stop within %s of SIGTERM:\n%s", stopWait, s.log)
	}
	if s.err != nil {
		s.t.Fatalf("serve exited with %v after SIGTERM, want status 0:\n%s", s.err, s.log)
	}
}

// runBinary runs the binary to completion (bounded by stopWait) and
// returns its exit code and output.
func runBinary(t testing.TB, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), stopWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("orderstore %s did not finish within %s:\n%s", strings.Join(args, " "), stopWait, errOut.String())
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String(), errOut.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// processLog keeps the tail of a process's JSON log and reports the
// address it listens on.
type processLog struct {
	mu    sync.Mutex
	part  []byte
	lines []string // the last maxLines lines
	addr  chan string
}

const maxLines = 200

func newProcessLog() *processLog { return &processLog{addr: make(chan string, 1)} }

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.part[:i])
		l.part = l.part[i+1:]
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			select {
			case l.addr <- rec.Addr:
			default:
			}
		}
		l.lines = append(l.lines, line)
		if len(l.lines) > maxLines {
			l.lines = l.lines[len(l.lines)-maxLines:]
		}
	}
}

// String returns the lines kept, for failure messages.
func (l *processLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n") + "\n" + string(l.part)
}

// reply is a finished HTTP exchange.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request with a JSON body (if not nil) and headers in
// name, value pairs.
func call(ctx context.Context, hc *http.Client, method, url string, body []byte, headers ...string) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close() //nolint:errcheck // read-only
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: res.StatusCode, header: res.Header, body: raw}, nil
}

// mustCall is call for a test's own requests: a transport error fails t.
func mustCall(t testing.TB, method, url string, body []byte, headers ...string) reply {
	t.Helper()
	r, err := call(t.Context(), http.DefaultClient, method, url, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// problemCode returns the code of a problem+json answer, failing t if the
// answer is not one.
func problemCode(t testing.TB, r reply) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%d answered with Content-Type %q, want application/problem+json: %s", r.status, ct, r.body)
	}
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil || p.Status != r.status || p.Code == "" {
		t.Fatalf("problem body %s (%v) does not match status %d", r.body, err, r.status)
	}
	return p.Code
}
