package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/eventstore"
)

// ForeignStreamPrefix starts the streams of the other application whose
// events Sparse interleaves in the log: no view shows them.
const ForeignStreamPrefix = "foreign-"

// Sparse is a store shaped like KurrentDB's log, made of a store whose
// positions are dense (the embedded one): it decorates the real store, it
// does not fake one. Its positions are the inner ones spread out with
// irregular gaps, as byte offsets are, so that no computed position (p+1,
// p−1, a distance taken for a count) is ever right; it refuses to read
// after a number that is not one of its positions, the way KurrentDB
// refuses a read from a place that is not an event's; and it writes another
// application's events into the log between its own, which its view leaves
// out, as the KurrentDB adapter's stream-prefix filter does on a shared
// cluster.
//
// Sparse is for tests: every consumer of the port runs its tests on it
// beside the embedded store, so that what passes here holds on KurrentDB.
type Sparse struct {
	inner    eventstore.Store
	prefixes []string
	appends  atomic.Uint64
}

var _ eventstore.Store = (*Sparse)(nil)

// NewSparse returns the sparse view of inner, a store with dense positions
// (1, 2, 3, …) that Sparse owns from now on (Close closes it). The view
// shows the streams with one of the prefixes, as the KurrentDB adapter's
// StreamPrefixes option does; with none, every stream but the foreign ones.
func NewSparse(inner eventstore.Store, prefixes ...string) *Sparse {
	return &Sparse{inner: inner, prefixes: prefixes}
}

// The mapping of inner positions p ≥ 1 onto sparse ones: base + p·stride +
// jitter(p), jitter < stride/2, so gaps vary between stride/2 and 3/2·stride.
const (
	sparseBase   = 1 << 12
	sparseStride = 1 << 9
)

func toSparse(p uint64) uint64 {
	if p == 0 {
		return 0
	}
	return sparseBase + p*sparseStride + (p*0x9E3779B97F4A7C15)>>56
}

// fromSparse returns the inner position of a sparse one, and false for a
// number that is not one.
func fromSparse(s uint64) (uint64, bool) {
	if s == 0 {
		return 0, true
	}
	if s < sparseBase+sparseStride {
		return 0, false
	}
	p := (s - sparseBase) / sparseStride
	return p, toSparse(p) == s
}

func (s *Sparse) visible(stream string) bool {
	if len(s.prefixes) == 0 {
		return !strings.HasPrefix(stream, ForeignStreamPrefix)
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(stream, p) {
			return true
		}
	}
	return false
}

func (s *Sparse) show(ev eventstore.RecordedEvent) eventstore.RecordedEvent {
	ev.Position = toSparse(ev.Position)
	return ev
}

// Append implements eventstore.Store. Before every third append, another
// application appends an event of its own to the log.
func (s *Sparse) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if s.appends.Add(1)%3 == 1 {
		if err := s.AppendForeign(ctx, 1); err != nil {
			return eventstore.AppendResult{}, err
		}
	}
	res, err := s.inner.Append(ctx, stream, expected, events...)
	res.Position = toSparse(res.Position)
	return res, err
}

// AppendForeign appends n events of another application to the log, in
// streams of ForeignStreamPrefix, which the view does not show.
func (s *Sparse) AppendForeign(ctx context.Context, n int) error {
	for range n {
		data, _ := json.Marshal(map[string]string{"note": "another application's event"}) //nolint:errcheck // a map of strings
		ev := eventstore.EventData{ID: uuid.New(), Type: "ForeignThingHappened", Data: data}
		if _, err := s.inner.Append(ctx, ForeignStreamPrefix+uuid.NewString()[:8], eventstore.Any, ev); err != nil {
			return fmt.Errorf("append another application's event: %w", err)
		}
	}
	return nil
}

// ReadStream implements eventstore.Store.
func (s *Sparse) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	events, err := s.inner.ReadStream(ctx, stream, from, limit)
	for i := range events {
		events[i] = s.show(events[i])
	}
	return events, err
}

// innerAfter maps an after of the view onto the inner store, refusing a
// number that is not a position.
func (s *Sparse) innerAfter(op string, after uint64) (uint64, error) {
	p, ok := fromSparse(after)
	if !ok {
		return 0, fmt.Errorf("%s after %d: %w: no event has that position", op, after, eventstore.ErrInvalidPosition)
	}
	return p, nil
}

// refused reports the inner store's refusal of an after in the view's
// numbers.
func refused(op string, after uint64, err error) error {
	if errors.Is(err, eventstore.ErrInvalidPosition) {
		return fmt.Errorf("%s after %d: %w: beyond the head", op, after, eventstore.ErrInvalidPosition)
	}
	return err
}

// ReadAll implements eventstore.Store: it reads the inner store page by
// page until it has limit events of the view.
func (s *Sparse) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	p, err := s.innerAfter("read $all", after)
	if err != nil {
		return nil, err
	}
	const page = 256
	var out []eventstore.RecordedEvent
	for {
		events, err := s.inner.ReadAll(ctx, p, page)
		if err != nil {
			return nil, refused("read $all", after, err)
		}
		for _, ev := range events {
			if s.visible(ev.Stream) {
				out = append(out, s.show(ev))
				if limit > 0 && len(out) == limit {
					return out, nil
				}
			}
		}
		if len(events) < page {
			return out, nil
		}
		p = events[len(events)-1].Position
	}
}

// ReadFiltered implements eventstore.Store through the inner store's
// ReadFiltered, page by page, until it has limit events of the view.
func (s *Sparse) ReadFiltered(ctx context.Context, after uint64, limit int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	p, err := s.innerAfter("read $all filtered", after)
	if err != nil {
		return nil, err
	}
	const page = 256
	var out []eventstore.RecordedEvent
	for {
		events, err := s.inner.ReadFiltered(ctx, p, page, f)
		if err != nil {
			return nil, refused("read $all filtered", after, err)
		}
		for _, ev := range events {
			if s.visible(ev.Stream) {
				out = append(out, s.show(ev))
				if limit > 0 && len(out) == limit {
					return out, nil
				}
			}
		}
		if len(events) < page {
			return out, nil
		}
		p = events[len(events)-1].Position
	}
}

// Head implements eventstore.Store: the position of the last event of the
// view, looked for backwards from the inner head (whose positions are
// dense, so the emulation may count on them).
func (s *Sparse) Head(ctx context.Context) (uint64, error) {
	hi, err := s.inner.Head(ctx)
	if err != nil {
		return 0, err
	}
	for hi > 0 {
		lo := hi - min(hi, 32)
		events, err := s.inner.ReadAll(ctx, lo, int(hi-lo))
		if err != nil {
			return 0, err
		}
		for i := len(events) - 1; i >= 0; i-- {
			if s.visible(events[i].Stream) {
				return toSparse(events[i].Position), nil
			}
		}
		hi = lo
	}
	return 0, nil
}

// Subscribe implements eventstore.Store.
func (s *Sparse) Subscribe(ctx context.Context, after uint64, handle func([]eventstore.RecordedEvent) error) error {
	p, err := s.innerAfter("subscribe", after)
	if err != nil {
		return err
	}
	var (
		out       []eventstore.RecordedEvent
		handleErr error
	)
	err = s.inner.Subscribe(ctx, p, func(events []eventstore.RecordedEvent) error {
		out = out[:0]
		for _, ev := range events {
			if s.visible(ev.Stream) {
				out = append(out, s.show(ev))
			}
		}
		if len(out) == 0 {
			return nil
		}
		handleErr = handle(out)
		return handleErr
	})
	if handleErr != nil {
		return handleErr // unchanged, as the port promises
	}
	return refused("subscribe", after, err)
}

// Close closes the inner store.
func (s *Sparse) Close() error { return s.inner.Close() }
