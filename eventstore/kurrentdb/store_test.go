package kurrentdb

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

const (
	// downURL names a closed port with a discovery budget of one attempt.
	downURL = "esdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1&discoveryInterval=10"
	// stuckURL names a closed port with a discovery that outlives any test.
	stuckURL = "esdb://127.0.0.1:1?tls=false&maxDiscoverAttempts=1000000&discoveryInterval=1000"
	// wait bounds every call of these tests: they must end well before it.
	wait = 30 * time.Second
)

func mustOpen(t *testing.T, connString string) *Store {
	t.Helper()
	s, err := Open(t.Context(), connString, Options{})
	if err != nil {
		t.Fatalf("open %s: %v", connString, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func ctxWithin(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func event() eventstore.EventData {
	return eventstore.EventData{ID: uuid.New(), Type: "Happened", Data: []byte(`{}`)}
}

func TestOpen_ConnString(t *testing.T) {
	good := []string{
		"esdb://localhost:2113?tls=false",
		"esdb://localhost",
		"ESDB://localhost:2113?TLS=false",
		"esdb+discover://cluster.internal:2113",
		"esdb://h1:2111,h2:2112,h3:2113?tls=false&nodePreference=leader",
		"esdb+discover://cluster.internal:2113?NODEPREFERENCE=Leader",
		"esdb://admin:changeit@localhost:2113?tlsVerifyCert=false&maxDiscoverAttempts=3&keepAliveInterval=-1",
	}
	for _, cs := range good {
		if _, err := Open(t.Context(), cs, Options{}); err != nil {
			t.Errorf("Open(%q): %v", cs, err)
		}
	}

	bad := []struct {
		connString string
		mention    string // the error must say this
	}{
		{"", "esdb://"},
		{"localhost:2113", "esdb://"},
		{"http://localhost:2113", `"http"`},
		{"kurrentdb://localhost:2113?tls=false", "kurrentdb:// is not supported"},
		{"kurrentdb+discover://cluster:2113", "esdb+discover://"},
		{"esdb://", "esdb://"},
		{"esdb://localhost:2113?tls=false&colour=blue", `"colour"`},
		{"esdb://localhost:2113?keepAliveInterval=500", "keepAliveInterval"},
		{"esdb://localhost:port", "port"},
		{"esdb://localhost:2113/some/path", "path"},
		{"esdb://alice:s3cret@localhost:port?tls=false", "port"},
		// The service reads its own writes: only the leader will do.
		{"esdb://h1:2111,h2:2112,h3:2113?tls=false&nodePreference=follower", "reads its own writes"},
		{"esdb+discover://cluster.internal:2113?nodePreference=random", "nodePreference=leader"},
		{"esdb://localhost:2113?nodepreference=readonlyreplica", "leader"},
	}
	for _, tc := range bad {
		_, err := Open(t.Context(), tc.connString, Options{})
		if !errors.Is(err, ErrInvalidConnString) {
			t.Errorf("Open(%q) = %v, want ErrInvalidConnString", tc.connString, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("Open(%q) = %q; want it to mention %q", tc.connString, err, tc.mention)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) = %q: the error shows the password", tc.connString, err)
		}
	}
}

func TestOpen_ServerDown(t *testing.T) {
	s := mustOpen(t, downURL) // Open does no I/O, so it succeeds
	ctx := ctxWithin(t, wait)

	calls := map[string]func() error{
		"Append": func() error {
			_, err := s.Append(ctx, "order-1", eventstore.NoStream, event())
			return err
		},
		"Ping":       func() error { return s.Ping(ctx) },
		"ReadStream": func() error { _, err := s.ReadStream(ctx, "order-1", 0, 0); return err },
		"ReadAll":    func() error { _, err := s.ReadAll(ctx, 0, 10); return err },
		"Head":       func() error { _, err := s.Head(ctx); return err },
		"Subscribe": func() error {
			return s.Subscribe(ctx, 0, func([]eventstore.RecordedEvent) error { return nil })
		},
	}
	// The first call fails discovery and kills its client; the others fail
	// fast during the backoff.
	for name, call := range calls {
		err := call()
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("%s with the server down: %v, want ErrUnavailable", name, err)
		}
		t.Logf("%s: %v", name, err)
	}

	// Once the backoff has passed, a new client tries again, and the next
	// backoff is longer.
	for round := range 2 {
		s.conn.mu.Lock()
		s.conn.retryAt = time.Time{}
		s.conn.mu.Unlock()
		err := s.Ping(ctx)
		if !errors.Is(err, eventstore.ErrUnavailable) || strings.Contains(err.Error(), "reconnecting in") {
			t.Fatalf("ping after the backoff: %v, want ErrUnavailable from a new discovery", err)
		}
		s.conn.mu.Lock()
		backoff := s.conn.backoff
		s.conn.mu.Unlock()
		if want := minBackoff << (round + 1); backoff != want {
			t.Errorf("backoff after %d failures: %s, want %s", round+2, backoff, want)
		}
	}
}

// TestOpen_ServerDownConcurrent: callers arriving together during a failing
// discovery would hang inside the client; they must all get ErrUnavailable.
func TestOpen_ServerDownConcurrent(t *testing.T) {
	s := mustOpen(t, downURL)
	ctx := ctxWithin(t, wait)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				err = s.Ping(ctx)
			} else {
				_, err = s.Append(ctx, "order-1", eventstore.Any, event())
			}
			if !errors.Is(err, eventstore.ErrUnavailable) {
				t.Errorf("call %d: %v, want ErrUnavailable", i, err)
			}
		})
	}
	wg.Wait()
}

// TestStore_HonoursContext: with a discovery that never ends, calls return
// when their context does.
func TestStore_HonoursContext(t *testing.T) {
	s := mustOpen(t, stuckURL)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			ctx := ctxWithin(t, 200*time.Millisecond)
			var err error
			if i == 0 {
				err = s.Ping(ctx)
			} else {
				_, err = s.ReadStream(ctx, "order-1", 0, 0)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("call %d: %v, want context.DeadlineExceeded", i, err)
			}
		})
	}
	wg.Wait()
}

func TestStore_Close(t *testing.T) {
	s := mustOpen(t, stuckURL)
	ctx := ctxWithin(t, wait)

	// A subscription waiting on the stuck discovery ends at Close.
	subErr := make(chan error, 1)
	go func() {
		subErr <- s.Subscribe(ctx, 0, func([]eventstore.RecordedEvent) error { return nil })
	}()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	select {
	case err := <-subErr:
		if !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("subscription at close: %v, want ErrClosed", err)
		}
	case <-ctx.Done():
		t.Fatal("subscription did not end at close")
	}

	calls := map[string]func() error{
		"Append": func() error {
			_, err := s.Append(ctx, "order-1", eventstore.Any, event())
			return err
		},
		"Ping":       func() error { return s.Ping(ctx) },
		"ReadStream": func() error { _, err := s.ReadStream(ctx, "order-1", 0, 0); return err },
		"ReadAll":    func() error { _, err := s.ReadAll(ctx, 0, 0); return err },
		"Head":       func() error { _, err := s.Head(ctx); return err },
		"Subscribe": func() error {
			return s.Subscribe(ctx, 0, func([]eventstore.RecordedEvent) error { return nil })
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, eventstore.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestStore_AppendInvalid(t *testing.T) {
	s := mustOpen(t, stuckURL) // nothing may reach the client
	ctx := ctxWithin(t, wait)
	dup := event()
	cases := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		events   []eventstore.EventData
	}{
		{"empty stream", "", eventstore.Any, []eventstore.EventData{event()}},
		{"system stream", "$settings", eventstore.Any, []eventstore.EventData{event()}},
		{"bad expected", "s", eventstore.ExpectedVersion(-3), []eventstore.EventData{event()}},
		{"no events", "s", eventstore.Any, nil},
		{"zero ID", "s", eventstore.Any, []eventstore.EventData{{Type: "T", Data: []byte(`{}`)}}},
		{"no type", "s", eventstore.Any, []eventstore.EventData{{ID: uuid.New(), Data: []byte(`{}`)}}},
		{"bad data", "s", eventstore.Any, []eventstore.EventData{{ID: uuid.New(), Type: "T", Data: []byte(`{`)}}},
		{"duplicate ID", "s", eventstore.Any, []eventstore.EventData{dup, dup}},
	}
	for _, tc := range cases {
		_, err := s.Append(ctx, tc.stream, tc.expected, tc.events...)
		if !errors.Is(err, eventstore.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", tc.name, err)
		}
	}
}

func TestExpectedRevision(t *testing.T) {
	tests := []struct {
		in   eventstore.ExpectedVersion
		want esdb.ExpectedRevision
	}{
		{eventstore.Any, esdb.Any{}},
		{eventstore.NoStream, esdb.NoStream{}},
		{eventstore.StreamExists, esdb.StreamExists{}},
		{eventstore.Exact(0), esdb.Revision(0)},
		{eventstore.Exact(41), esdb.Revision(41)},
	}
	for _, tc := range tests {
		if got := expectedRevision(tc.in); got != tc.want {
			t.Errorf("expectedRevision(%s) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestRecorded(t *testing.T) {
	id := uuid.New()
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	got := recorded(&esdb.RecordedEvent{
		EventID: id, EventType: "OrderPlaced", ContentType: "application/json", StreamID: "order-1",
		EventNumber: 3, Position: esdb.Position{Commit: 900, Prepare: 880}, CreatedDate: created,
		Data: []byte(`{"a":1}`), UserMetadata: []byte(`{"correlation_id":"c"}`),
	})
	want := eventstore.RecordedEvent{
		ID: id, Stream: "order-1", Version: 3, Position: 900, Type: "OrderPlaced",
		Data: []byte(`{"a":1}`), Metadata: []byte(`{"correlation_id":"c"}`), RecordedAt: created.UTC(),
	}
	if got.ID != want.ID || got.Stream != want.Stream || got.Version != want.Version || got.Position != want.Position ||
		got.Type != want.Type || !bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Metadata, want.Metadata) ||
		!got.RecordedAt.Equal(want.RecordedAt) || got.RecordedAt.Location() != time.UTC {
		t.Errorf("recorded = %+v, want %+v", got, want)
	}
}

func TestIsSystem(t *testing.T) {
	tests := []struct {
		typ, stream string
		want        bool
	}{
		{"OrderPlaced", "order-1", false},
		{"StockReceived", "stock-sku$1", false},
		{"$>", "$ce-order", true},
		{"$metadata", "$$order-1", true},
		{"$statsCollected", "$stats-127.0.0.1:2113", true},
		{"OrderPlaced", "$category-order", true},
		{"$ProjectionsInitialized", "order-1", true},
	}
	for _, tc := range tests {
		if got := isSystem(&esdb.RecordedEvent{EventType: tc.typ, StreamID: tc.stream}); got != tc.want {
			t.Errorf("isSystem(%q in %q) = %t, want %t", tc.typ, tc.stream, got, tc.want)
		}
	}
}

func TestFill(t *testing.T) {
	feed := make(chan eventstore.RecordedEvent, 2*maxBatch)
	for i := range 2*maxBatch - 10 {
		feed <- eventstore.RecordedEvent{Version: int64(i)}
	}
	batch := fill(make([]eventstore.RecordedEvent, 0, maxBatch), feed)
	if len(batch) != maxBatch || batch[0].Version != 0 || batch[maxBatch-1].Version != maxBatch-1 {
		t.Fatalf("first batch: %d events", len(batch))
	}
	if batch = fill(batch[:0], feed); len(batch) != maxBatch-10 {
		t.Fatalf("second batch: %d events, want %d", len(batch), maxBatch-10)
	}
}

func TestClientLogging(t *testing.T) {
	var buf bytes.Buffer
	log := clientLogging(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	log(esdb.LogWarn, "discovery attempt %v/%v", 1, 3)
	if out := buf.String(); !strings.Contains(out, "discovery attempt 1/3") || !strings.Contains(out, "client_level=warn") ||
		!strings.Contains(out, "level=DEBUG") {
		t.Errorf("client log line = %q", out)
	}
}
