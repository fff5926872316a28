//go:build unix

package embedded_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
)

// faultChildEnv makes TestStore_DiskFullChild act as the appender process
// of TestStore_DiskFull (the package's TestMain belongs to crash_test.go).
const faultChildEnv = "ORDERSTORE_FAULT_CHILD_DIR"

// faultWait bounds every wait of the fault tests.
const faultWait = 30 * time.Second

// faultAppenders is the number of concurrent appenders, one stream each.
const faultAppenders = 8

// TestStore_DiskFull runs appenders in a child process and, mid-run, limits
// the child's file size (RLIMIT_FSIZE) to the current size of the WAL, so
// that every commit fails as on a full disk; then lifts the limit. While it
// holds, appends fail with ErrUnavailable and Ping reports the failure;
// once lifted, appends succeed again and Ping is nil, without reopening the
// store. Afterwards every acknowledged event is there, no failed one is, and
// positions and versions have no gaps.
func TestStore_DiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the child-process disk-full test")
	}
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestStore_DiskFullChild$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), faultChildEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tl := newTally()
	replies := make(chan string, 16)
	go func() {
		defer close(replies)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if r, ok := parseResult(sc.Text()); ok {
				tl.add(r)
			} else if reply, ok := strings.CutPrefix(sc.Text(), "reply "); ok {
				replies <- reply
			}
		}
	}()
	ask := func(cmdLine, want string) string {
		t.Helper()
		if _, err := fmt.Fprintln(stdin, cmdLine); err != nil {
			t.Fatalf("%s: %v\n%s", cmdLine, err, stderr.String())
		}
		select {
		case r, ok := <-replies:
			if !ok {
				t.Fatalf("%s: the child exited: %s", cmdLine, stderr.String())
			}
			if !strings.HasPrefix(r, want) {
				t.Fatalf("%s: the child answered %q, want %q…", cmdLine, r, want)
			}
			return r
		case <-time.After(faultWait):
			t.Fatalf("%s: no answer from the child in %s", cmdLine, faultWait)
		}
		return ""
	}

	tl.waitFor(t, "200 acknowledged appends", func(acks, _ int) bool { return acks >= 200 })
	limited := ask("limit", "limited")
	_, failsBefore := tl.counts()
	tl.waitFor(t, "appends failing under the file-size limit", func(_, fails int) bool { return fails >= failsBefore+2*faultAppenders })
	ask("ping", "ping err")
	ask("unlimit", "unlimited")
	acksHealed, _ := tl.counts()
	tl.waitFor(t, "appends succeeding again", func(acks, _ int) bool { return acks >= acksHealed+200 })
	ask("ping", "ping ok")
	ask("stop", "closed")
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
	acks, fails := tl.counts()
	t.Logf("%s; %d appends acknowledged, %d failed while the limit held", limited, acks, fails)
	tl.verify(t, dir)
}

// TestStore_DiskFullChild is the appender process of TestStore_DiskFull
// when faultChildEnv is set; in a normal run it does nothing.
//
// It appends from faultAppenders goroutines and prints every outcome on
// stdout; it takes commands on stdin: limit (RLIMIT_FSIZE to the WAL's
// current size), unlimit, ping, stop (close the store).
func TestStore_DiskFullChild(t *testing.T) {
	dir := os.Getenv(faultChildEnv)
	if dir == "" {
		return
	}
	// Go ignores SIGXFSZ already; say so, since the test rests on it.
	signal.Ignore(syscall.SIGXFSZ)
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var outMu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	emit := func(line string) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintln(out, line)
		if err := out.Flush(); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for w := range faultAppenders {
		wg.Go(func() {
			appendUntil(ctx, s, fmt.Sprintf("order-fault-%d", w), func(r appendResult) { emit(r.String()) })
		})
	}
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "limit":
			st, err := os.Stat(filepath.Join(dir, embedded.FileName+"-wal"))
			if err != nil {
				t.Fatal(err)
			}
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(st.Size()), Max: orig.Max}); err != nil {
				t.Fatal(err)
			}
			emit(fmt.Sprintf("reply limited file size to %d bytes, the WAL's size", st.Size()))
		case "unlimit":
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &orig); err != nil {
				t.Fatal(err)
			}
			emit("reply unlimited")
		case "ping":
			if err := s.Ping(ctx); err != nil {
				if !errors.Is(err, eventstore.ErrUnavailable) {
					t.Fatalf("Ping: %v, want an error matching ErrUnavailable", err)
				}
				emit("reply ping err " + oneLine(err.Error()))
			} else {
				emit("reply ping ok")
			}
		case "stop":
			cancel()
			wg.Wait()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			emit("reply closed")
			return
		}
	}
	t.Fatal("stdin closed before stop")
}

// appendResult is the outcome of one append.
type appendResult struct {
	kind     string // ack, fail, or unknown (ctx ended: maybe recorded)
	stream   string
	id       uuid.UUID
	version  int64
	position uint64
	err      string // for fail: "unavailable" if it matched ErrUnavailable, else the error
}

func (r appendResult) String() string {
	return fmt.Sprintf("%s %s %s %d %d %s", r.kind, r.stream, r.id, r.version, r.position, oneLine(r.err))
}

func parseResult(line string) (appendResult, bool) {
	f := strings.SplitN(line, " ", 6)
	if len(f) < 5 || (f[0] != "ack" && f[0] != "fail" && f[0] != "unknown") {
		return appendResult{}, false
	}
	id, err1 := uuid.Parse(f[2])
	v, err2 := strconv.ParseInt(f[3], 10, 64)
	p, err3 := strconv.ParseUint(f[4], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return appendResult{}, false
	}
	r := appendResult{kind: f[0], stream: f[1], id: id, version: v, position: p}
	if len(f) == 6 {
		r.err = f[5]
	}
	return r, true
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " | ") }

// appendUntil appends one event at a time to stream, each at the exact
// version the previous acknowledgement returned, until ctx ends, and
// reports every outcome. A failed append is retried after a short pause:
// the fault may last.
func appendUntil(ctx context.Context, s *embedded.Store, stream string, report func(appendResult)) {
	expected := eventstore.NoStream
	for ctx.Err() == nil {
		ev := benchEvent()
		res, err := s.Append(ctx, stream, expected, ev)
		r := appendResult{stream: stream, id: ev.ID}
		switch {
		case err == nil:
			r.kind, r.version, r.position = "ack", res.Version, res.Position
			expected = eventstore.Exact(res.Version)
		case ctx.Err() != nil:
			r.kind = "unknown"
			report(r)
			return
		case errors.Is(err, eventstore.ErrUnavailable):
			r.kind, r.err = "fail", "unavailable"
		default:
			r.kind, r.err = "fail", err.Error()
		}
		report(r)
		if err != nil {
			select {
			case <-time.After(5 * time.Millisecond):
			case <-ctx.Done():
			}
		}
	}
}

// tally collects append outcomes and lets a test wait for counts.
type tally struct {
	mu      sync.Mutex
	results []appendResult
	acks    int
	fails   int
	changed chan struct{} // closed and replaced at each add
}

func newTally() *tally { return &tally{changed: make(chan struct{})} }

func (tl *tally) add(r appendResult) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.results = append(tl.results, r)
	switch r.kind {
	case "ack":
		tl.acks++
	case "fail":
		tl.fails++
	}
	close(tl.changed)
	tl.changed = make(chan struct{})
}

func (tl *tally) counts() (acks, fails int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.acks, tl.fails
}

// waitFor waits until cond holds for the counts, or fails t after faultWait.
func (tl *tally) waitFor(t *testing.T, what string, cond func(acks, fails int) bool) {
	t.Helper()
	deadline := time.After(faultWait)
	for {
		tl.mu.Lock()
		ok, changed, acks, fails := cond(tl.acks, tl.fails), tl.changed, tl.acks, tl.fails
		tl.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("waiting for %s: not within %s (%d acknowledged, %d failed)", what, faultWait, acks, fails)
		}
	}
}

// verify reopens the store in dir and checks the outcomes against it:
// failures are ErrUnavailable only; every acknowledged event is at its
// place; no failed event was written; positions and per-stream versions
// have no gaps.
func (tl *tally) verify(t *testing.T, dir string) {
	t.Helper()
	s, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatalf("reopen after the fault: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	all, err := s.ReadAll(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[uuid.UUID]eventstore.RecordedEvent{}
	versions := map[string]int64{}
	for i, ev := range all {
		if ev.Position != uint64(i)+1 {
			t.Fatalf("event %d has position %d: a gap", i, ev.Position)
		}
		if want := versions[ev.Stream]; ev.Version != want {
			t.Fatalf("%s has version %d at position %d, want %d: a gap", ev.Stream, ev.Version, ev.Position, want)
		}
		versions[ev.Stream] = ev.Version + 1
		byID[ev.ID] = ev
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, r := range tl.results {
		ev, found := byID[r.id]
		switch r.kind {
		case "ack":
			if !found || ev.Stream != r.stream || ev.Version != r.version || ev.Position != r.position {
				t.Errorf("acknowledged %s v%d at %d (%s): found=%v, recorded as %s v%d at %d",
					r.stream, r.version, r.position, r.id, found, ev.Stream, ev.Version, ev.Position)
			}
		case "fail":
			if r.err != "unavailable" {
				t.Errorf("append to %s failed with %q, want an error matching ErrUnavailable", r.stream, r.err)
			}
			if found {
				t.Errorf("failed append %s to %s was written, at position %d", r.id, r.stream, ev.Position)
			}
		}
	}
}
