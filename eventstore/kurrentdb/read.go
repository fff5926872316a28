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
func (s *Store) ReadAll(ctx context.Context, after uint64, limit int) ([]eventstore.RecordedEvent, error) {
	var out []eventstore.RecordedEvent
	err := s.conn.do(ctx, func(ctx context.Context, c *esdb.Client) error {
		from, cursor := allFrom(after), after
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
			var next esdb.AllPosition
			n, err := each(rs, func(ev *esdb.RecordedEvent) bool {
				if ev.Position.Commit <= cursor && (cursor > 0 || next != nil) {
					return true // the start itself, or seen
				}
				cursor, next = ev.Position.Commit, ev.Position
				if s.view.shows(ev) {
					out = append(out, recorded(ev))
				}
				return limit <= 0 || len(out) < limit
			})
			if err != nil {
				return err
			}
			if n < count || next == nil || (limit > 0 && len(out) >= limit) {
				return nil
			}
			from = next
		}
	})
	if err != nil {
		return nil, s.fail(ctx, "read $all", err)
	}
	return out, nil
}

// Head implements eventstore.Store: it reads $all backwards to the last
// event of the store's view, so that Head is the position of the last event
// ReadAll and Subscribe show.
func (s *Store) Head(ctx context.Context) (uint64, error) {
	var head uint64
	err := s.conn.do(ctx, func(ctx context.Context, c *esdb.Client) error {
		var from esdb.AllPosition = esdb.End{}
		var cursor uint64
		for {
			rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: from}, pageSize)
			if err != nil {
				return err
			}
			var next esdb.AllPosition
			n, err := each(rs, func(ev *esdb.RecordedEvent) bool {
				if cursor > 0 && ev.Position.Commit >= cursor {
					return true // the start itself
				}
				cursor, next = ev.Position.Commit, ev.Position
				if !s.view.shows(ev) {
					return true
				}
				head = ev.Position.Commit
				return false
			})
			if err != nil || head > 0 || n < pageSize || next == nil {
				return err
			}
			from = next
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

// allFrom is where a read or subscription of $all after a position starts:
// the beginning for 0, else that position (inclusive for reads, exclusive
// for subscriptions).
func allFrom(after uint64) esdb.AllPosition {
	if after == 0 {
		return esdb.Start{}
	}
	return esdb.Position{Commit: after, Prepare: after}
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
