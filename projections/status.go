package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orderstore/orderstore/eventstore"
)

// Status describes a projection, in the JSON shape of GET /projections.
type Status struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Position is the checkpoint: every event of $all up to it is applied.
	Position uint64 `json:"position"`
	// Head is the position of the last event of $all.
	Head uint64 `json:"head"`
	// Lag is the number of events of $all after Position up to Head,
	// counted by reading them (positions are tokens, not counts) up to
	// lagCountLimit; LagCapped tells that the count stopped there.
	Lag       uint64 `json:"lag"`
	LagCapped bool   `json:"lag_capped,omitempty"`
	// LagSeconds is how long the oldest event not yet applied has been
	// recorded, 0 when Lag is 0.
	LagSeconds float64 `json:"lag_seconds"`
	State      State   `json:"state"`
	// LastError is the projection's most recent error: why it failed, why
	// it had to retry, or why a rebuild failed. A successful rebuild clears
	// it.
	LastError string `json:"last_error"`
	// FailedPosition is the position of the event the projection failed
	// at, while failed.
	FailedPosition uint64 `json:"failed_position,omitempty"`
	// SkippedEvents counts events of unknown types passed over since the
	// read model was (re)built.
	SkippedEvents uint64 `json:"skipped_events"`
	// UpdatedAt is the time of the last checkpoint commit.
	UpdatedAt time.Time `json:"updated_at"`
	// Rebuild is the progress of a rebuild, while in state rebuilding.
	Rebuild *Progress `json:"rebuild,omitempty"`
	// Store is the event store's state when the status was taken:
	// StoreAvailable, or StoreUnavailable when it did not answer; then
	// Head and the lag are the last known ones (0 if none is known yet)
	// and StoreError tells why.
	Store      string `json:"store"`
	StoreError string `json:"store_error,omitempty"`
}

// The states of Status.Store.
const (
	StoreAvailable   = "available"
	StoreUnavailable = "unavailable"
)

// lagCountLimit bounds the events Status reads to count a projection's
// lag: a thousand events read in about a millisecond on the embedded store.
const lagCountLimit = 1000

// lag is how far a checkpoint is behind the head.
type lag struct {
	events uint64
	capped bool
	oldest time.Time // when the first event not applied was recorded
}

// lastKnown is what Status saw of the store when it last answered, shown
// while it does not.
type lastKnown struct {
	head uint64
	lags map[uint64]lag // by checkpoint position
}

// Status returns the status of every projection, stock first. While the
// store does not answer, Status still answers, from the projections' own
// state and the head and lag last seen, with Store set to
// StoreUnavailable: an operator needs it most then. It fails only when ctx
// ends.
func (m *Manager) Status(ctx context.Context) ([]Status, error) {
	head, storeErr := m.store.Head(ctx)
	m.statusMu.Lock()
	known := m.last
	m.statusMu.Unlock()
	if storeErr != nil {
		head = known.head
	}
	now := m.now()
	out := make([]Status, 0, len(m.runners))
	lags := map[uint64]lag{} // projections often share a checkpoint
	for _, r := range m.runners {
		s := r.status(head, now)
		if s.Position < head && !r.onOtherStore() {
			l, ok := lags[s.Position]
			if !ok && storeErr == nil {
				var err error
				if l, err = m.lag(ctx, s.Position, head); err == nil {
					ok = true
					lags[s.Position] = l
				} else {
					storeErr = err
				}
			}
			if !ok {
				l = known.lags[s.Position]
			}
			s.Lag, s.LagCapped = l.events, l.capped
			if l.events > 0 {
				s.LagSeconds = max(0, now.Sub(l.oldest).Seconds())
			}
		}
		out = append(out, s)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("projection status: %w", err)
	}
	state := StoreAvailable
	if storeErr != nil {
		state = StoreUnavailable
	}
	for i := range out {
		out[i].Store = state
		if storeErr != nil {
			out[i].StoreError = storeErr.Error()
		}
	}
	if storeErr == nil {
		m.statusMu.Lock()
		if head >= m.last.head { // the newer of two concurrent calls wins
			m.last = lastKnown{head: head, lags: lags}
		}
		m.statusMu.Unlock()
	}
	return out, nil
}

// lag counts the events after pos up to head, and the age of the first.
// A checkpoint that is not a position of the store has no lag to count:
// its projection shows failed, with the reason.
func (m *Manager) lag(ctx context.Context, pos, head uint64) (lag, error) {
	next, err := m.store.ReadAll(ctx, pos, lagCountLimit)
	if errors.Is(err, eventstore.ErrInvalidPosition) {
		return lag{}, nil
	}
	if err != nil {
		return lag{}, err
	}
	var l lag
	for _, ev := range next {
		if ev.Position > head {
			break
		}
		l.events++
	}
	if l.events > 0 {
		l.oldest = next[0].RecordedAt
		l.capped = len(next) == lagCountLimit && next[len(next)-1].Position < head
	}
	return l, nil
}

func (r *runner) status(head uint64, now time.Time) Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Status{
		Name:          r.p.Name(),
		Version:       r.cp.Version,
		Position:      r.cp.Position,
		Head:          head,
		State:         r.stateLocked(),
		LastError:     r.lastErr,
		SkippedEvents: r.cp.Skipped,
		UpdatedAt:     r.cp.UpdatedAt,
	}
	if r.failure != nil {
		s.FailedPosition = r.failure.position
	}
	if t := r.rebuild; t != nil || r.reset != nil {
		if t == nil {
			t = r.reset
		}
		p := t.progress(s.Name, now)
		s.Rebuild = &p
	}
	return s
}

// onOtherStore reports whether the projection failed because its
// checkpoint belongs to another store: then it has no lag to count.
func (r *runner) onOtherStore() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failure != nil && errors.Is(r.failure.err, errOtherStore)
}

// stateLocked derives the state; r.mu must be held.
func (r *runner) stateLocked() State {
	switch {
	case r.rebuild != nil || r.failure == nil && r.reset != nil:
		return StateRebuilding
	case r.failure != nil:
		return StateFailed
	case r.live:
		return StateLive
	}
	return StateCatchingUp
}

// WaitFor blocks until the projection name has applied every event up to
// position, for read-your-writes: a command's response tells the position
// of its last event. It returns nil once the checkpoint is ≥ position;
// ctx's error if ctx ends first; an error matching ErrFailed if the
// projection is failed (and not being rebuilt) short of position; and
// ErrUnknownProjection for an unknown name. It waits on commit
// notifications, without polling.
func (m *Manager) WaitFor(ctx context.Context, name string, position uint64) error {
	r := m.runner(name)
	if r == nil {
		return fmt.Errorf("%w: %q", ErrUnknownProjection, name)
	}
	for {
		r.mu.Lock()
		reached, state, fail, wake := r.cp.Position >= position, r.stateLocked(), r.failure, r.notify
		r.mu.Unlock()
		switch {
		case reached:
			return nil
		case state == StateFailed && fail.position == 0:
			return fmt.Errorf("%w: %s: %w", ErrFailed, name, fail.err)
		case state == StateFailed:
			return fmt.Errorf("%w: %s stopped at position %d: %w", ErrFailed, name, fail.position, fail.err)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
