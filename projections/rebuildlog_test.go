package projections

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/stock"
)

// logBuffer is a log destination shared by goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the log lines with msg of the projection name.
func (b *logBuffer) lines(msg, name string) []string {
	var out []string
	for l := range strings.Lines(b.String()) {
		if strings.Contains(l, "msg=\""+msg+"\"") || strings.Contains(l, "msg="+msg+" ") {
			if strings.Contains(l, logProjection+"="+name+" ") {
				out = append(out, l)
			}
		}
	}
	return out
}

func TestTracker_Percent(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	tr := newTracker(t0)
	if p := tr.progress("stock", t0); p.Percent != 0 || p.Rate != 0 || p.ETASeconds != 0 {
		t.Errorf("nothing replayed: %+v, want all 0", p)
	}
	tr.update(1, 1, 3) // one event of three
	if p := tr.progress("stock", t0.Add(time.Second)); p.Percent != 33.3 || p.Done != 1 || p.Total != 3 {
		t.Errorf("one of three: %+v, want 33.3 percent", p)
	}
	tr.update(2, 3, 3)
	if p := tr.progress("stock", t0.Add(2*time.Second)); p.Percent != 100 || p.ETASeconds != 0 {
		t.Errorf("all replayed: %+v, want 100 percent, no ETA", p)
	}
}

func TestProgressLog_Due(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	l := newProgressLog(5*time.Second, t0)
	mid := Progress{Projection: "stock", Done: 10, Total: 100}
	for _, tc := range []struct {
		p    Progress
		at   time.Duration
		want bool
	}{
		{Progress{Projection: "stock", Total: 100}, 10 * time.Second, false}, // nothing replayed yet
		{mid, time.Second, false},    // too early
		{mid, 5 * time.Second, true}, // one interval after the start
		{mid, 7 * time.Second, false},
		{Progress{Projection: "analytics", Done: 10, Total: 100}, 7 * time.Second, true}, // its own pace
		{mid, 10 * time.Second, true},
		{Progress{Projection: "stock", Done: 100, Total: 100}, time.Minute, false}, // the end has its own line
	} {
		if got := l.due(tc.p, t0.Add(tc.at)); got != tc.want {
			t.Errorf("due(%+v) at +%s = %t, want %t", tc.p, tc.at, got, tc.want)
		}
	}
}

// An online rebuild logs when it is done, with the events it replayed and
// the time it took.
func TestManager_RebuildLogsDuration(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		var logs logBuffer
		m, _ := start(t, dir, s, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		var head uint64
		for i := range 20 {
			head = placeOrder(t, s, fmt.Sprintf("o-%d", i), domain.Line{SKU: "S", Quantity: 1, UnitPrice: 100})
		}
		waitAll(t, m, head)
		if err := m.Rebuild(all); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{stock.Name, analytics.Name} {
			waitStatus(t, m, name, rebuilt)
			done := logs.lines("rebuild done", name)
			if len(done) != 1 || !strings.Contains(done[0], " events=20 ") || !strings.Contains(done[0], " duration=") {
				t.Errorf("%s: rebuild done lines %q, want one with events=20 and a duration", name, done)
			}
		}
	})
}

// An online rebuild of more than one batch logs its progress, with the
// percentage, every rebuildLogEvery of its clock.
func TestManager_RebuildLogsProgress(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := openStore(t, dir)
	if err := writeConcurrently(t.Context(), s, 7, 4, 3*pageSize, nil); err != nil {
		t.Fatal(err)
	}
	// More events than one transaction takes, whatever the replay merges:
	// events of a type no projection knows, which it reads and skips.
	for range maxTxEvents / 500 {
		filler := make([]eventstore.EventData, 500)
		for i := range filler {
			filler[i] = eventstore.EventData{ID: uuid.New(), Type: "Filler", Data: []byte(`{}`)}
		}
		if _, err := s.Append(t.Context(), "filler", eventstore.Any, filler...); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := s.Head(t.Context())
	// Each reading of the clock is an interval later: every progress
	// between the first and the last is due.
	var ticks atomic.Int64
	t0 := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return t0.Add(time.Duration(ticks.Add(1)) * rebuildLogEvery) }
	var logs logBuffer
	m, _ := start(t, dir, s, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clock})
	waitAll(t, m, head)
	if err := m.Rebuild(stock.Name); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, stock.Name, rebuilt)
	lines := logs.lines("rebuild progress", stock.Name)
	if len(lines) == 0 {
		t.Fatalf("no progress lines for a rebuild of %d events:\n%s", countEvents(t, s), logs.String())
	}
	for _, l := range lines {
		if !strings.Contains(l, " percent=") || strings.Contains(l, " done=0 ") {
			t.Errorf("progress line %q: want a percent, and done > 0", l)
		}
	}
}

// A rebuild cut off by the end of its ctx (SIGTERM) logs that it was
// interrupted and where, and leaves the live tables as they were.
func TestRebuild_InterruptedLogsWhere(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, openStore opener) {
		dir := t.TempDir()
		s := openStore(t, dir)
		for i := range 20 {
			placeOrder(t, s, fmt.Sprintf("o-%d", i), domain.Line{SKU: "S", Quantity: 1, UnitPrice: 100})
		}
		var logs logBuffer
		m, err := Open(dir, s, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := m.Close(); err != nil {
				t.Error(err)
			}
		})
		targets, err := m.lookup([]string{stock.Name})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		errs := rebuild(ctx, targets, func(p Progress) {
			if p.Done > 0 {
				cancel() // as SIGTERM would, once some events are replayed
			}
		})
		if errs[0] == nil {
			t.Fatal("rebuild cut off by its ctx returned no error")
		}
		lines := logs.lines("rebuild interrupted: the live tables are unchanged; start the rebuild again", stock.Name)
		if len(lines) != 1 {
			t.Fatalf("interrupted lines %q, want one\n%s", lines, logs.String())
		}
		for _, want := range []string{" position=", " done=", " total=", " percent=", " duration="} {
			if !strings.Contains(lines[0], want) {
				t.Errorf("interrupted line %q has no %s", lines[0], want)
			}
		}
		if gen := m.runner(stock.Name).checkpoint().Generation; gen != 1 {
			t.Errorf("generation %d after an interrupted rebuild, want 1", gen)
		}
	})
}
