package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/embedded"
	"github.com/orderstore/orderstore/eventstore/storetest"
)

// indexed is CorrelatedStore over an unindexed store, with the Manager
// that keeps the index running; Close stops the Manager, then closes the
// store.
type indexed struct {
	eventstore.Store
	base eventstore.Store // what unindexed wraps: the embedded store or Sparse
	stop func() error
}

func (s *indexed) Close() error { return s.stop() }

// openIndexed opens the embedded store in dir/events, through Sparse (with
// its view's prefix) if sparse, without its correlation index, and the
// correlations projection over it in dir/models.
func openIndexed(dir string, sparse bool, prefix string, wait time.Duration) (*indexed, error) {
	es, err := embedded.Open(filepath.Join(dir, "events"), embedded.Options{})
	if err != nil {
		return nil, err
	}
	var base eventstore.Store = es
	if sparse {
		base = storetest.NewSparse(es, prefix)
	}
	u := storetest.Unindexed{Store: base}
	m, err := Open(filepath.Join(dir, "models"), u, Options{CorrelationIndex: true})
	if err != nil {
		return nil, errors.Join(err, base.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	stop := sync.OnceValue(func() error { // Close is idempotent
		cancel()
		err := <-done
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		return errors.Join(err, m.Close(), base.Close())
	})
	return &indexed{Store: CorrelatedStore(u, m, wait), base: base, stop: stop}, nil
}

// TestCorrelatedStore_Conformance runs the store conformance suite on a
// store whose correlation filter the correlations projection serves, with
// dense positions and with KurrentDB's shape of them (Sparse): its
// ReadFiltered case checks every filter, paged, against Filter.Match.
func TestCorrelatedStore_Conformance(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		storetest.Run(t, storetest.Harness{
			New: func(t *testing.T) func() (eventstore.Store, error) {
				dir := t.TempDir()
				return func() (eventstore.Store, error) { return openIndexed(dir, false, "", storetest.Timeout) }
			},
			DensePositions: true,
		})
	})
	t.Run("sparse", func(t *testing.T) {
		const prefix = "order-"
		storetest.Run(t, storetest.Harness{
			New: func(t *testing.T) func() (eventstore.Store, error) {
				dir := t.TempDir()
				return func() (eventstore.Store, error) { return openIndexed(dir, true, prefix, storetest.Timeout) }
			},
			SparsePositions: true,
			StreamPrefix:    prefix,
			WriteForeign: func(ctx context.Context, s eventstore.Store, n int) error {
				return s.(*indexed).base.(*storetest.Sparse).AppendForeign(ctx, n)
			},
		})
	})
}

// TestCorrelatedStore_ReadYourWrites: a flow's events are found as soon as
// their append has answered, without waiting on the caller's side, and
// found again from the index kept on disk after a restart.
func TestCorrelatedStore_ReadYourWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := openIndexed(dir, true, "", storetest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	flow := "flow-" + uuid.NewString()
	var ids []uuid.UUID
	for i := range 40 {
		meta, _ := json.Marshal(map[string]string{"correlation_id": flow}) //nolint:errcheck // strings
		if i%3 == 1 {
			meta = []byte(`{"correlation_id":"other"}`)
		}
		ev := eventstore.EventData{ID: uuid.New(), Type: "Tested", Data: []byte(`{}`), Metadata: meta}
		if _, err := s.Append(ctx, fmt.Sprintf("order-%d", i%4), eventstore.Any, ev); err != nil {
			t.Fatal(err)
		}
		if i%3 != 1 {
			ids = append(ids, ev.ID)
		}
		got, err := s.ReadFiltered(ctx, 0, 0, eventstore.Filter{CorrelationID: flow})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ids) || got[len(got)-1].ID != ids[len(ids)-1] {
			t.Fatalf("after append %d: %d events of the flow, want %d ending with %s", i, len(got), len(ids), ids[len(ids)-1])
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = openIndexed(dir, true, "", storetest.Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	got, err := s.ReadFiltered(ctx, 0, 0, eventstore.Filter{CorrelationID: flow})
	if err != nil || len(got) != len(ids) {
		t.Fatalf("after a restart: %d events, err %v; want %d", len(got), err, len(ids))
	}
	for i := range got {
		if got[i].ID != ids[i] {
			t.Fatalf("after a restart, event %d is %s, want %s", i, got[i].ID, ids[i])
		}
	}
}

// TestCorrelatedStore_Behind: while the index is short of the store's head
// (the projection is not running here), a read waits its bound and then
// says where the index is, instead of answering part of a flow.
func TestCorrelatedStore_Behind(t *testing.T) {
	s := openSparse(t, t.TempDir())
	u := storetest.Unindexed{Store: s}
	m, err := Open(t.TempDir(), u, Options{CorrelationIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	}()
	meta := []byte(`{"correlation_id":"f"}`)
	res, err := s.Append(t.Context(), "order-1", eventstore.NoStream,
		eventstore.EventData{ID: uuid.New(), Type: "Tested", Data: []byte(`{}`), Metadata: meta})
	if err != nil {
		t.Fatal(err)
	}
	c := CorrelatedStore(u, m, 10*time.Millisecond)
	_, err = c.ReadFiltered(t.Context(), 0, 0, eventstore.Filter{CorrelationID: "f"})
	var be *BehindError
	if !errors.As(err, &be) {
		t.Fatalf("read of an index that is not running: %v, want a *BehindError", err)
	}
	if be.Head != res.Position || be.Position != 0 {
		t.Fatalf("behind at %d of head %d, want 0 of %d", be.Position, be.Head, res.Position)
	}
	// Other filters are the store's own, and do not wait.
	got, err := c.ReadFiltered(t.Context(), 0, 0, eventstore.Filter{StreamPrefix: "order-"})
	if err != nil || len(got) != 1 {
		t.Fatalf("by stream prefix: %d events, err %v; want 1", len(got), err)
	}
}
