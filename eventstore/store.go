package eventstore

import "context"

// AllStream is the name by which the global log is shown to users.
const AllStream = "$all"

// Store is an event store. All methods are safe for concurrent use.
type Store interface {
	// Append records events at the end of stream if its current version
	// satisfies expected. It is atomic: all events are recorded or none.
	// The result is acknowledged only once the events are durable.
	//
	// A retry is recognised by event IDs and writes nothing: Append returns
	// the original result if, for an exact or NoStream expected version, the
	// events are recorded right after that version, or, for Any and
	// StreamExists, in the same order in the stream when they were first
	// appended without an exact version too (the embedded store checks the
	// whole stream; KurrentDB only a cache of recent writes). (Appending
	// recorded IDs at the stream's current exact version is not recognised;
	// callers that retry decisions check the events they loaded.) Errors: [*VersionError] (matches
	// ErrWrongExpectedVersion), ErrDuplicateEventID, ErrInvalidArgument,
	// ErrUnavailable, ErrClosed, or ctx's error if it ends first; in the
	// last case the append may or may not have been recorded.
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...EventData) (AppendResult, error)

	// ReadStream returns up to limit events of stream with version ≥ from,
	// in version order. A limit ≤ 0 means no limit. It returns ErrNotFound
	// if the stream has no events at all.
	ReadStream(ctx context.Context, stream string, from int64, limit int) ([]RecordedEvent, error)

	// ReadAll returns up to limit events with position > after, in position
	// order. A limit ≤ 0 means no limit. after is 0 (the beginning) or a
	// position this store returned (see "Positions" in the package
	// documentation); for another value it fails with an error matching
	// ErrInvalidPosition.
	ReadAll(ctx context.Context, after uint64, limit int) ([]RecordedEvent, error)

	// ReadFiltered is ReadAll restricted to the events f selects, read
	// through the store's indexes rather than a scan of the log where the
	// backend has them (see each backend's documentation for the cost).
	// The zero Filter selects every event, as ReadAll. Paging works as for
	// ReadAll: pass the position of the last event returned as the next
	// after. Errors: as ReadAll, and ErrUnsupported for a filter the
	// backend cannot serve.
	ReadFiltered(ctx context.Context, after uint64, limit int, f Filter) ([]RecordedEvent, error)

	// Head returns the position of the last event ReadAll and Subscribe
	// show, 0 if none.
	Head(ctx context.Context) (uint64, error)

	// Subscribe calls handle with every event whose position is > after,
	// in position order and in non-empty batches: first those already recorded
	// (catch-up), then new ones as they are committed (live, pushed, not
	// polled). Delivery is at-least-once across subscriptions: a subscriber
	// resumes from the position it last saved.
	//
	// after must be 0 or a position this store returned, as for ReadAll: a
	// store that can tell otherwise fails with an error matching
	// ErrInvalidPosition, before or instead of any delivery.
	//
	// Subscribe blocks until ctx ends (it returns ctx.Err()), handle returns
	// an error (returned unchanged), or the store fails or closes. handle is
	// called from one goroutine at a time and must not keep the slice.
	Subscribe(ctx context.Context, after uint64, handle func([]RecordedEvent) error) error

	// Close releases the store. Appends in flight finish or fail with
	// ErrClosed; subscriptions end with ErrClosed. Close is idempotent.
	Close() error
}

// CommitWatcher is implemented by stores that can tell a commit without
// reading its events (the embedded store). Committed returns a channel
// that is closed at the next commit after the call; a consumer that only
// needs to know that the log grew (and reads it at its own pace) waits on
// it instead of following a subscription that reads every event.
type CommitWatcher interface {
	Committed() <-chan struct{}
}

// StreamVersioner is implemented by stores that know, in process, the
// version of streams written since they were opened (the embedded store).
// StreamVersion returns the version of the last committed event of
// stream, as ReadStream would show it, and true; or false when the store
// does not know it without reading (a stream not written since open, or
// forgotten since), and the caller reads. Like a read, the answer may be
// behind an append committing at the same time, never ahead.
type StreamVersioner interface {
	StreamVersion(stream string) (version int64, known bool)
}

// GroupCommitter is implemented by stores that commit concurrent appends
// together, with one fsync (the embedded store). Expect announces a
// command in progress that is to append with the returned context, or one
// derived from it; the append itself ends the announcement, and done ends
// it if no append follows (calling done after the append changes
// nothing). While commands are announced, the store may hold a commit for
// a moment (the embedded store: at most Options.CommitHold), as
// PostgreSQL's commit_delay does while commit_siblings transactions are
// active. Wait tells the store that the command announced in ctx is about
// to wait for something a held commit may itself be holding up (the lock
// of an order whose holder's append is in that commit): it does not count
// until resume is called. Both are no-ops on a context that announces
// nothing.
type GroupCommitter interface {
	Expect(ctx context.Context) (_ context.Context, done func())
	Wait(ctx context.Context) (resume func())
}
