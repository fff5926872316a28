package projections

import (
	"context"
	"fmt"
	"time"
)

// Status describes a projection, in the JSON shape of GET /projections.
type Status struct {
	Name    string `json:"name"`
	Version int    `json:"version"`
	// Position is the checkpoint: every event of $all up to it is applied.
	Position uint64 `json:"position"`
	// Head is the position of the last event of $all.
	Head uint64 `json:"head"`
	// Lag is Head − Position: a number of events on the embedded store,
	// whose positions are dense, a distance between positions on stores
	// whose positions are not (KurrentDB's are log offsets).
	Lag uint64 `json:"lag"`
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
}

// Status returns the status of every projection, stock first.
func (m *Manager) Status(ctx context.Context) ([]Status, error) {
	head, err := m.store.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("projection status: %w", err)
	}
	now := m.now()
	out := make([]Status, 0, len(m.runners))
	for _, r := range m.runners {
		s := r.status(head, now)
		if s.Lag > 0 {
			next, err := m.store.ReadAll(ctx, s.Position, 1)
			if err != nil {
				return nil, fmt.Errorf("projection status: %w", err)
			}
			if len(next) > 0 {
				s.LagSeconds = max(0, now.Sub(next[0].RecordedAt).Seconds())
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (r *runner) status(head uint64, now time.Time) Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Status{
		Name:          r.p.Name(),
		Version:       r.cp.Version,
		Position:      r.cp.Position,
		Head:          max(head, r.cp.Position),
		State:         r.stateLocked(),
		LastError:     r.lastErr,
		SkippedEvents: r.cp.Skipped,
		UpdatedAt:     r.cp.UpdatedAt,
	}
	s.Lag = s.Head - s.Position
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
