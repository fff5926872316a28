package embedded

import (
	"context"
	"fmt"

	"github.com/orderstore/orderstore/eventstore"
)

// subscribeBatch bounds one delivery, so catch-up over a long history never
// holds it all in memory.
const subscribeBatch = 1000

// Subscribe implements eventstore.Store. Live delivery is woken by commits:
// a subscriber that has caught up sleeps until the writer publishes a new
// head.
func (s *Store) Subscribe(ctx context.Context, after uint64, handle func([]eventstore.RecordedEvent) error) error {
	if err := s.open(); err != nil {
		return err
	}
	if err := s.checkAfter(ctx, after); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	for {
		// Take the wakeup channel before looking at the head, so a commit
		// that lands in between still wakes us.
		wake := s.wakeup()
		if s.head.Load() > after {
			events, err := s.ReadAll(ctx, after, subscribeBatch)
			if err != nil {
				return err
			}
			if len(events) > 0 {
				if err := handle(events); err != nil {
					return err
				}
				after = events[len(events)-1].Position
				continue
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return eventstore.ErrClosed
		}
	}
}

// Committed implements eventstore.CommitWatcher: the channel is closed at
// the next commit that adds events.
func (s *Store) Committed() <-chan struct{} { return s.wakeup() }
