package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/projections/correlations"
)

// BehindError is a read of the correlation index that found the index
// short of the store's head and waited for it in vain: the projection is
// catching up (a new replica reads the log once) or stopped.
type BehindError struct {
	// Position is where the index is; Head, the store's head it waited for.
	Position, Head uint64
	Wait           time.Duration
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("the %s projection (the index of correlation IDs) has not reached the head of the event store (%d) within %s; "+
		"it is at %d: retry, and follow its progress at GET /projections", correlations.Name, e.Head, e.Wait, e.Position)
}

// CorrelatedStore returns store with ReadFiltered answering a filter on a
// correlation ID from m's correlations projection (Options.CorrelationIndex
// must be set): for a store, such as KurrentDB, that has no such index of
// its own. Every other call, and every other filter, goes to store.
//
// A read is consistent with the store as of its start: it first waits
// until the index has taken every event up to the store's head (the head
// when the read began), at most wait, then fails with a *BehindError. So
// a flow's events are found as soon as the command that wrote them has
// answered. The events are then read from their streams, a few reads per
// stream of the flow.
func CorrelatedStore(store eventstore.Store, m *Manager, wait time.Duration) eventstore.Store {
	return &correlatedStore{Store: store, m: m, wait: wait}
}

type correlatedStore struct {
	eventstore.Store
	m    *Manager
	wait time.Duration
}

// runGap is the widest gap of versions between two events of a flow in one
// stream that one read spans: closer events are read together, others one
// run at a time.
const runGap = 16

func (s *correlatedStore) ReadFiltered(ctx context.Context, after uint64, limit int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	if f.CorrelationID == "" {
		return s.Store.ReadFiltered(ctx, after, limit, f)
	}
	const op = "read $all filtered"
	if after != 0 {
		// The store judges after, as its own filters do.
		if _, err := s.Store.ReadAll(ctx, after, 1); err != nil {
			return nil, err
		}
	}
	head, err := s.Store.Head(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.await(ctx, head); err != nil {
		return nil, err
	}
	var refs []correlations.Ref
	_, err = s.m.query(ctx, correlations.Name, func(tx *sql.Tx, prefix string) (err error) {
		refs, err = correlations.Find(ctx, tx, prefix, correlations.Query{CorrelationID: f.CorrelationID, After: after,
			Type: f.Type, StreamPrefix: f.StreamPrefix, Limit: limit})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return s.fetch(ctx, refs)
}

// await waits until the index has taken the events up to head.
func (s *correlatedStore) await(ctx context.Context, head uint64) error {
	wctx, cancel := context.WithTimeout(ctx, s.wait)
	defer cancel()
	err := s.m.WaitFor(wctx, correlations.Name, head)
	if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var at uint64
	if r := s.m.runner(correlations.Name); r != nil {
		at = r.checkpoint().Position
	}
	return &BehindError{Position: at, Head: head, Wait: s.wait}
}

// fetch reads the events refs name from their streams, in refs' order.
// An event no longer there (its stream deleted, or truncated), or another
// event at its version (a stream deleted and written again), is left out:
// the log no longer holds it.
func (s *correlatedStore) fetch(ctx context.Context, refs []correlations.Ref) ([]eventstore.RecordedEvent, error) {
	type key struct {
		stream  string
		version int64
	}
	byStream := map[string][]int64{}
	for _, r := range refs {
		byStream[r.Stream] = append(byStream[r.Stream], r.Version)
	}
	found := make(map[key]eventstore.RecordedEvent, len(refs))
	for stream, versions := range byStream {
		slices.Sort(versions)
		for len(versions) > 0 {
			n := 1
			for n < len(versions) && versions[n]-versions[n-1] <= runGap {
				n++
			}
			from, to := versions[0], versions[n-1]
			events, err := s.Store.ReadStream(ctx, stream, from, int(to-from+1))
			if err != nil && !errors.Is(err, eventstore.ErrNotFound) {
				return nil, err
			}
			for _, ev := range events {
				found[key{stream, ev.Version}] = ev
			}
			versions = versions[n:]
		}
	}
	out := make([]eventstore.RecordedEvent, 0, len(refs))
	for _, r := range refs {
		// A stream read may come without the event's place in $all (0,
		// "no position" on some servers): the index has it.
		if ev, ok := found[key{r.Stream, r.Version}]; ok && (ev.Position == r.Position || ev.Position == 0) {
			ev.Position = r.Position
			out = append(out, ev)
		}
	}
	return out, nil
}
