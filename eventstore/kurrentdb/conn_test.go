package kurrentdb

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"

	"github.com/orderstore/orderstore/eventstore"
)

// TestStore_RequiresLeader: every call of the store carries the
// requires-leader header, which the client does not send even when told
// to (RequiresLeader, or nodePreference=leader, its default).
func TestStore_RequiresLeader(t *testing.T) {
	f := startFake(t)
	f.add("order-1", "OrderPlaced", 2)
	s := f.open(t)
	ctx := ctxWithin(t, wait)

	// Append reaches the fake, which does not implement it: the call's
	// header is all that matters here.
	_, _ = s.Append(ctx, "order-2", eventstore.NoStream, event()) //nolint:errcheck // refused by the fake
	if _, err := s.ReadStream(ctx, "order-1", 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadAll(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	first, err := s.ReadAll(ctx, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := collect(ctx, s, first[0].Position, 1); err != nil { // a check, then the subscription
		t.Fatal(err)
	}

	calls := f.recordedCalls()
	methods := map[string]int{}
	for _, c := range calls {
		methods[c.method]++
		if got := c.md.Get(requiresLeader); !slices.Equal(got, []string{"true"}) {
			t.Errorf("%s: requires-leader = %q, want [true]", c.method, got)
		}
	}
	if methods["/event_store.client.streams.Streams/Append"] == 0 || methods["/event_store.client.streams.Streams/Read"] == 0 {
		t.Errorf("calls seen by the server: %v; want appends, reads and subscriptions", methods)
	}
	t.Logf("head %d; calls: %v", head, methods)

	// The client alone: with RequiresLeader and its default nodePreference
	// (leader), the header stays in the incoming metadata of the call's
	// context (esdb/options.go, configureGrpcCall) and is never sent. If
	// this fails, the client has been fixed and leaderOnly is redundant.
	cfg, err := esdb.ParseConnectionString(f.url())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	if cfg.NodePreference != esdb.NodePreferenceLeader {
		t.Fatalf("default node preference %s, want leader", cfg.NodePreference)
	}
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() //nolint:errcheck // always nil
	rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{RequiresLeader: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := each(rs, func(*esdb.RecordedEvent) bool { return true }); err != nil {
		t.Fatal(err)
	}
	calls = f.recordedCalls()
	if last := calls[len(calls)-1]; len(last.md.Get(requiresLeader)) != 0 {
		t.Errorf("the client alone sent requires-leader %q: leaderOnly may go", last.md.Get(requiresLeader))
	}
}

// TestStore_ClientPanics: the client's reader panics on a message it does
// not expect. The panic ends that call only, as an error; a subscription
// running on the same client goes on, and the store keeps working.
func TestStore_ClientPanics(t *testing.T) {
	f := startFake(t)
	f.add("order-1", "OrderPlaced", 1)
	s := f.open(t)
	ctx := ctxWithin(t, wait)

	// A healthy subscription, started before the server misbehaves.
	healthy := make(chan eventstore.RecordedEvent, 8)
	healthyErr := make(chan error, 1)
	go func() {
		healthyErr <- s.Subscribe(ctx, 0, func(batch []eventstore.RecordedEvent) error {
			for _, ev := range batch {
				healthy <- ev
			}
			return nil
		})
	}()
	select {
	case <-healthy:
	case err := <-healthyErr:
		t.Fatalf("healthy subscription ended: %v", err)
	}

	f.set(func(f *fakeServer) {
		f.corrupt = func(req *streams.ReadReq) *streams.ReadResp {
			if req.GetOptions().GetSubscription() != nil {
				// An event without a stream: the client dereferences nil
				// (esdb/protobuf_utils.go, getRecordedEventFromProto).
				resp := eventResp(fakeEvent{stream: "order-9", typ: "OrderPlaced"})
				resp.GetEvent().GetEvent().StreamIdentifier = nil
				return resp
			}
			// A checkpoint in a read: panic("unreachable code")
			// (esdb/reads.go, ReadStream.Recv).
			return &streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{Checkpoint: &streams.ReadResp_Checkpoint{}}}
		}
	})
	if _, err := s.ReadAll(ctx, 0, 0); !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("ReadAll with a panicking client: %v, want ErrUnavailable saying the client panicked", err)
	}
	retry(s)
	err := s.Subscribe(ctx, 0, func([]eventstore.RecordedEvent) error { return nil })
	if !errors.Is(err, eventstore.ErrUnavailable) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("Subscribe with a panicking client: %v, want ErrUnavailable saying the client panicked", err)
	}
	f.set(func(f *fakeServer) { f.corrupt = nil })

	// The healthy subscription still delivers.
	want := f.add("order-2", "OrderPlaced", 1)[0]
	select {
	case ev := <-healthy:
		if ev.Position != want {
			t.Errorf("healthy subscription delivered %d, want %d", ev.Position, want)
		}
	case err := <-healthyErr:
		t.Fatalf("healthy subscription ended with the panicking one: %v", err)
	case <-ctx.Done():
		t.Fatal("healthy subscription delivered nothing more")
	}
	// And so does the store, on a new client.
	retry(s)
	if all, err := s.ReadAll(ctx, 0, 0); err != nil || len(all) != 2 {
		t.Errorf("ReadAll after the panics: %d events, %v", len(all), err)
	}
}

// retry lets the next call make a new client at once, without the backoff
// that follows a lost connection.
func retry(s *Store) {
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	s.conn.retryAt = time.Time{}
}
