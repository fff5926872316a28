package kurrentdb

import (
	"context"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/orderstore/orderstore/eventstore"
)

// maxBatch bounds the events handed to a subscriber at once.
const maxBatch = 500

// Subscribe implements eventstore.Store with a catch-up subscription to $all
// that shows the store's view: the server filters by the view's stream
// prefixes (or to non-system event types), the receiver by the view itself.
// A goroutine receives events into a queue; handle gets whatever is queued
// at once, up to maxBatch. An after other than 0 is first checked with a
// read of the event there (checkAfter): the server would refuse a number
// inside a record, but would subscribe silently beyond the head.
//
// When the server drops the subscription, Subscribe returns an error
// matching ErrUnavailable after delivering the events received before; the
// caller resubscribes from the last position it handled.
func (s *Store) Subscribe(ctx context.Context, after uint64, handle func([]eventstore.RecordedEvent) error) error {
	ctx, cancel := context.WithCancel(ctx) // stops the receiver when we return
	defer cancel()
	feed := make(chan eventstore.RecordedEvent, maxBatch)
	ended := make(chan error, 1)
	go func() {
		ended <- s.conn.run(ctx, func(ctx context.Context, c *esdb.Client, up func()) error {
			return receive(ctx, c, after, s.view, up, feed)
		})
	}()
	batch := make([]eventstore.RecordedEvent, 0, maxBatch)
	for {
		select {
		case ev := <-feed:
			if err := handle(fill(append(batch[:0], ev), feed)); err != nil {
				return err
			}
		case err := <-ended:
			// Deliver what arrived before the end, then report the end.
			for len(feed) > 0 && ctx.Err() == nil {
				if err := handle(fill(batch[:0], feed)); err != nil {
					return err
				}
			}
			return s.fail(ctx, "subscribe $all", err)
		case <-s.conn.done():
			return eventstore.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fill appends the queued events to batch, up to maxBatch, without waiting.
func fill(batch []eventstore.RecordedEvent, feed <-chan eventstore.RecordedEvent) []eventstore.RecordedEvent {
	for len(batch) < maxBatch {
		select {
		case ev := <-feed:
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// receive subscribes to $all after a position and queues the events of
// view v on feed until the subscription drops or ctx ends.
func receive(ctx context.Context, c *esdb.Client, after uint64, v view, up func(), feed chan<- eventstore.RecordedEvent) error {
	const op = "subscribe $all"
	if err := checkAfter(ctx, c, op, after); err != nil {
		return err
	}
	sub, err := c.SubscribeToAll(ctx, esdb.SubscribeToAllOptions{
		From:   subscribeFrom(after),
		Filter: v.filter(),
	})
	if err != nil {
		return err
	}
	defer sub.Close() //nolint:errcheck // always nil
	up()
	last := delivered(after)
	for {
		se := sub.Recv()
		switch {
		case se.SubscriptionDropped != nil:
			return &dropped{err: se.SubscriptionDropped.Error}
		case se.EventAppeared != nil:
			ev := se.EventAppeared.OriginalEvent()
			// The whole (commit, prepare) pair keeps delivery strictly
			// after what was delivered: events may share a commit position.
			if ev == nil || !before(last, ev.Position) {
				continue
			}
			last = ev.Position
			if !v.shows(ev) {
				continue
			}
			select {
			case feed <- recorded(ev):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		// Checkpoints and caught-up notices carry nothing to deliver.
	}
}
