package kurrentdb

import (
	"context"
	"fmt"

	"github.com/orderstore/orderstore/eventstore"
)

// ReadFiltered implements eventstore.Store for the zero Filter only (as
// ReadAll); any other fails with eventstore.ErrUnsupported.
//
// What the server offers, and why none of it is used yet: a read of $all
// takes no server-side filter in the gRPC API this client speaks, only a
// subscription to $all does (by event type or stream prefix, as
// Subscribe's view uses), so a filtered page would be a filtered
// catch-up subscription read until limit or CaughtUp, which servers
// before 23.10 never send. The $et-<type> and $ce-<category> streams of
// the server's system projections index type and stream category, but
// only where those projections run, and their link events carry the
// link's position, not the event's. Nothing on the server indexes a
// correlation ID inside metadata (the $by_correlation_id projection
// writes one stream per ID, again only where enabled): that needs a
// local index built by a subscriber, or a scan of $all, which costs the
// whole log per query and is refused here rather than done silently.
func (s *Store) ReadFiltered(ctx context.Context, after uint64, limit int, f eventstore.Filter) ([]eventstore.RecordedEvent, error) {
	if f.IsZero() {
		return s.ReadAll(ctx, after, limit)
	}
	return nil, fmt.Errorf("read $all filtered on KurrentDB: %w", eventstore.ErrUnsupported)
}
