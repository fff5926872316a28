package fulfilment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
)

// pollDeadlines is how often the deadline loop asks the Deadlines source
// for deadlines the saga did not see since it started; the ones it saw
// wake it on time.
const pollDeadlines = 30 * time.Second

// sourceLimit bounds the orders one FireDeadlines takes from the source.
const sourceLimit = 1000

// deadlineLoop fires deadlines when they fall due until ctx ends.
func (s *Saga) deadlineLoop(ctx context.Context) {
	if s.timeout <= 0 {
		return
	}
	for {
		if _, err := s.FireDeadlines(ctx); err != nil && ctx.Err() == nil {
			s.logger.Error("payment deadlines", logErr, err)
		}
		wait := pollDeadlines
		if next, ok := s.nextDeadline(); ok {
			wait = min(wait, max(next.Sub(s.now()), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.wake:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

func (s *Saga) nextDeadline() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, d := range s.deadlines {
		if next.IsZero() || d.Before(next) {
			next = d
		}
	}
	return next, !next.IsZero()
}

// FireDeadlines cancels, with reason payment_timeout, every order whose
// payment is due at the saga's Now: those whose deadline it knows, and
// those the Deadlines source reports. The order stream decides: an order
// paid (or cancelled) meanwhile, even a moment before, is left alone, as
// the cancellation is appended at the version the saga read. It returns
// how many orders it cancelled. Deadlines are off with a zero timeout.
func (s *Saga) FireDeadlines(ctx context.Context) (int, error) {
	if s.timeout <= 0 {
		return 0, nil
	}
	now := s.now()
	var due []string
	s.mu.Lock()
	for id, d := range s.deadlines {
		if !now.Before(d) {
			due = append(due, id)
		}
	}
	s.mu.Unlock()
	if s.source != nil {
		more, err := s.source.PaymentsDue(ctx, now.Add(-s.timeout), sourceLimit)
		if err != nil {
			return 0, fmt.Errorf("payment deadlines: %w", err)
		}
		due = append(due, more...)
	}
	fired := 0
	seen := make(map[string]bool, len(due))
	var errs []error
	for _, id := range due {
		if seen[id] {
			continue
		}
		seen[id] = true
		ok, err := s.expire(ctx, id)
		if err != nil {
			if transient(ctx, err) {
				return fired, err
			}
			errs = append(errs, err)
			continue
		}
		if ok {
			fired++
		}
	}
	return fired, errors.Join(errs...)
}

// expire cancels order id if its payment is due, and reports whether it
// did. A payment appended between the read and the append makes the
// append fail on the order's version; the order is then read again, paid.
func (s *Saga) expire(ctx context.Context, id string) (bool, error) {
	for range maxAttempts {
		o, err := s.loadOrder(ctx, id)
		if err != nil {
			return false, err
		}
		s.track(o)
		if !o.ReserveStock {
			return false, nil
		}
		events, err := domain.Decide(o.Order, domain.ExpirePayment{Timeout: s.timeout}, s.now())
		if errors.Is(err, domain.ErrNotAllowed) {
			return false, nil // paid, cancelled, or not due after all
		}
		if err != nil {
			return false, fmt.Errorf("order %s: expire payment: %w", id, err)
		}
		stream := domain.OrderStream(id)
		c := cause{trigger: o.reservedEvent, correlation: o.correlation}
		data, err := c.encode(domain.ExpirePayment{}.CommandName(), stream, o.version, events)
		if err != nil {
			return false, err
		}
		_, err = s.store.Append(ctx, stream, expected(o.version), data...)
		if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("append to %s: %w", stream, err)
		}
		s.mu.Lock()
		delete(s.deadlines, id)
		s.mu.Unlock()
		s.metrics.deadlines.Inc()
		s.logger.Info("payment deadline passed: order cancelled", logOrder, id)
		return true, nil
	}
	return false, fmt.Errorf("order %s: expire payment: %w", id, ErrConflict)
}
