package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/orderstore/orderstore/eventstore"
)

// pageSize bounds one read of $all: reads page on until they have enough
// events of the store's view.
const pageSize = 512

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from int64, limit int) ([]eventstore.RecordedEvent, error) {
	if stream == "" {
		return nil, fmt.Errorf("read: %w: empty stream name", eventstore.ErrInvalidArgument)
	}
	count := uint64(math.MaxUint64)
	if limit > 0 {
		count = uint64(limit)
	}
	var out []eventstore.RecordedEvent
	err := s.conn.do(ctx, func(ctx context.Context, c *esdb.Client) error {
		rs, err := c.ReadStream(ctx, stream, esdb.ReadStreamOptions{From: esdb.Revision(uint64(max(from, 0)))}, count)
		if err != nil {
			return err
		}
		_, err = each(rs, func(ev *esdb.RecordedEvent) bool {
			out = append(out, recorded(ev))
			return true
		})
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, "read "+stream, err)
	}
	return out, nil
}

// ReadAll implements eventstore.Store. It reads $all unfiltered and keeps
// the events of the store's view, so a page may take more than one read.
// The first event read must be at after (see checkStart). A page that
// reaches limit ends after its last event, unless that event shares its
// commit position with the next ones (a legacy transaction, see the package
// documentation): then the page takes them too, as reading after that
// position would skip them.
func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	const op = "read $all"
	if err := checkRange(op, after); err != nil {
		return nil, err
	}
	var out []eventstore.RecordedEvent
	full := func() bool { return limit > 0 && len(out) >= limit }
	err := s.conn.do(ctx, func(ctx context.Context, c *esdb.Client) error {
		from, seen := readFrom(after), delivered(after)
		checked := after == 0
		count := pageSize
		if limit > 0 {
			count = 0
		}
		for {
			if limit > 0 {
				// +1: a read starts with the event that ended the one
				// before. A read that found too few events of the view
				// doubles the next, so that other applications' events
				// cost few round trips.
				count = min(pageSize, max(2*count, limit-len(out)+1, 2))
			}
			rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{From: from}, uint64(count))
			if err != nil {
				return err
			}
			var startErr error
			done := false
			n, err := each(rs, func(ev *esdb.RecordedEvent) bool {
				if !checked {
					checked = true
					if startErr = checkStart(op, after, ev); startErr != nil {
						return false
					}
				}
				if !before(seen, ev.Position) {
					return true // delivered already: the start of the read
				}
				if full() && ev.Position.Commit != seen.Commit {
					done = true
					return false
				}
				seen = ev.Position
				if s.view.shows(ev) {
					out = append(out, recorded(ev))
					if full() && ev.Position.Commit == ev.Position.Prepare {
						done = true // no other event has this commit position
						return false
					}
				}
				return true
			})
			switch {
			case err != nil:
				return err
			case startErr != nil:
				return startErr
			case !checked:
				return checkStart(op, after, nil)
			case done || n < count:
				return nil
			}
			from = seen
		}
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// Head implements eventstore.Store: it reads $all backwards to the last
// event of the store's view, so that Head is the position of the last event
// ReadAll and Subscribe show.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	var head uint64
	err := s.conn.do(ctx, func(ctx context.Context, c *esdb.Client) error {
		var (
			from   esdb.AllPosition = esdb.End{}
			cursor *esdb.Position   // the last event read
		)
		for {
			rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: from}, pageSize)
			if err != nil {
				return err
			}
			moved := false
			n, err := each(rs, func(ev *esdb.RecordedEvent) bool {
				if cursor != nil && !before(ev.Position, *cursor) {
					return true // the start itself
				}
				pos := ev.Position
				cursor, moved = &pos, true
				if !s.view.shows(ev) {
					return true
				}
				head = ev.Position.Commit
				return false
			})
			if err != nil || head > 0 || n < pageSize || !moved {
				return err
			}
			from = *cursor
		}
	})
	if err != nil {
		return 0, s.fail(ctx, "head", err)
	}
	return head, nil
}

// each calls fn with the events of rs until fn returns false or rs ends, and
// closes rs. It returns how many events rs delivered.
func each(rs *esdb.ReadStream, fn func(*esdb.RecordedEvent) bool) (n int, err error) {
	defer rs.Close()
	for {
		re, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		ev := re.OriginalEvent()
		if ev == nil {
			continue // a link to a deleted event
		}
		if !fn(ev) {
			return n, nil
		}
	}
}

// recorded converts an event of the client. Its position is normalised as
// the server's markers for "no position" (stream reads on some versions)
// become 0, the port's "unknown".
func recorded(ev *esdb.RecordedEvent) eventstore.RecordedEvent {
	return eventstore.RecordedEvent{
		ID:         ev.EventID,
		Stream:     ev.StreamID,
		Version:    int64(ev.EventNumber),
		Position:   knownPosition(ev.Position.Commit),
		Type:       ev.EventType,
		Data:       ev.Data,
		Metadata:   ev.UserMetadata,
		RecordedAt: ev.CreatedDate.UTC(),
	}
}
