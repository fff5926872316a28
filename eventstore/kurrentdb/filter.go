package kurrentdb

import (
	"context"
	"fmt"
	"regexp"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/orderstore/orderstore/eventstore"
)

// ReadFiltered implements eventstore.Store with what the server offers: a
// read of $all takes no filter in the gRPC API, but a subscription to $all
// does, by event type or by stream prefix, applied by the server as it
// reads the log. A page is such a subscription from after, read until it
// holds limit events, or the server says it has caught up (servers since
// 23.10), or it reaches the last event $all held when the page began. With
// both a type and a stream prefix, the server filters by type and the
// store by prefix. Cost: the server reads the log from after to the page's
// last event (or to the head), sending only matches: no index, but no
// events that do not match cross the network.
//
// A correlation ID fails with eventstore.ErrUnsupported: nothing on the
// server indexes a value inside an event's metadata (the $by_correlation_id
// system projection writes a stream of links per ID, and only where it is
// enabled and told the metadata's key), and a scan of the whole log per
// query is refused rather than done silently. serve answers that filter
// from a local index instead: projections.CorrelatedStore.
func (s *Store) ReadFiltered(ctx context.Context, after uint64, limit int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	if f.IsZero() {
		return s.ReadAll(ctx, after, limit)
	}
	const op = "read $all filtered"
	if f.CorrelationID != "" {
		return nil, fmt.Errorf("%s by correlation_id on KurrentDB: %w", op, eventstore.ErrUnsupported)
	}
	if err := checkRange(op, after); err != nil {
		return nil, err
	}
	var out []eventstore.RecordedEvent
	err := s.conn.do(ctx, func(ctx context.Context, c *esdb.Client) error {
		out = nil // a retried call starts over
		if err := checkAfter(ctx, c, op, after); err != nil {
			return err
		}
		head, err := lastRecord(ctx, c)
		if err != nil || head == nil || !before(delivered(after), *head) {
			return err // an empty log, or nothing after after yet
		}
		ctx, cancel := context.WithCancel(ctx) // ends the subscription
		defer cancel()
		sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{From: subscribeFrom(after), Filter: serverFilter(f)})
		if err != nil {
			return err
		}
		defer sub.Close() //nolint:errcheck // always nil
		last := delivered(after)
		for {
			se := sub.Recv()
			switch {
			case se.SubscriptionDropped != nil:
				return &dropped{err: se.SubscriptionDropped.Error}
			case se.CaughtUp != nil:
				return nil
			case se.CheckPointReached != nil:
				if !before(*se.CheckPointReached, *head) {
					return nil
				}
			case se.EventAppeared != nil:
				ev := se.EventAppeared.OriginalEvent()
				if ev == nil || !before(last, ev.Position) {
					continue
				}
				// A full page ends before an event of another commit
				// position: one sharing the last event's (a legacy
				// transaction) would be skipped by the next page.
				if limit > 0 && len(out) >= limit && ev.Position.Commit != last.Commit {
					return nil
				}
				last = ev.Position
				if e := recorded(ev); s.view.shows(ev) && f.Match(e) {
					out = append(out, e)
					if limit > 0 && len(out) >= limit && ev.Position.Commit == ev.Position.Prepare {
						return nil // no other event has this commit position
					}
				}
				if !before(ev.Position, *head) {
					return nil // the head when the page began
				}
			}
		}
	})
	if err != nil {
		return nil, s.fail(ctx, op, err)
	}
	return out, nil
}

// serverFilter is the part of f the server applies: the event type if f
// has one (as an anchored, quoted regular expression), else the stream
// prefix.
func serverFilter(f eventstore.Filter) *esdb.SubscriptionFilter {
	if f.Type != "" {
		return &esdb.SubscriptionFilter{Type: esdb.EventFilterType, Regex: "^" + regexp.QuoteMeta(f.Type) + "$"}
	}
	return &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{f.StreamPrefix}}
}

// lastRecord returns the position of the last event in $all, whoever's it
// is, or nil for an empty log.
func lastRecord(ctx context.Context, c *esdb.Client) (*esdb.Position, error) {
	// A few: each passes over links to deleted events.
	rs, err := c.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 32)
	if err != nil {
		return nil, err
	}
	var last *esdb.Position
	_, err = each(rs, func(ev *esdb.RecordedEvent) bool {
		p := ev.Position
		last = &p
		return false
	})
	return last, err
}
