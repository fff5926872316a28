package eventstore

import (
	"errors"
	"fmt"
)

var (
	// ErrNotFound is returned by ReadStream when the stream has no events.
	ErrNotFound = errors.New("stream not found")

	// ErrWrongExpectedVersion is matched (errors.Is) by the [*VersionError]
	// that Append returns when the stream's version does not satisfy the
	// expected version.
	ErrWrongExpectedVersion = errors.New("wrong expected version")

	// ErrDuplicateEventID is returned by Append when an event ID was already
	// recorded somewhere other than the place this append would put it, so
	// the append is neither new nor an idempotent repeat.
	ErrDuplicateEventID = errors.New("event ID already recorded elsewhere")

	// ErrClosed is returned by every method called after Close, and ends
	// subscriptions that were running when the store closed.
	ErrClosed = errors.New("store closed")

	// ErrUnavailable is returned when the backend cannot be reached or cannot
	// write (server down, disk full, read-only directory). The operation may
	// succeed later; nothing was acknowledged.
	ErrUnavailable = errors.New("store unavailable")

	// ErrInvalidPosition is returned by ReadAll and Subscribe for an after
	// that is neither 0 nor the position of an event the store shows: a
	// number between two positions on a store whose positions are sparse
	// (KurrentDB's are log offsets), a position beyond the head, or one
	// taken from another store. Positions are tokens: carry the ones the
	// store returned, never compute one.
	ErrInvalidPosition = errors.New("not a position of this store")

	// ErrInvalidArgument is returned for calls the port rejects before any
	// I/O: an empty stream name, an invalid expected version, an event
	// without ID or type, a malformed JSON payload.
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrUnsupported is returned by ReadFiltered for a filter the backend
	// cannot serve through an index (KurrentDB: a correlation ID). It
	// matches errors.ErrUnsupported too.
	ErrUnsupported = fmt.Errorf("filter not supported by this store: %w", errors.ErrUnsupported)
)

// VersionError is the error of an append whose expected version does not
// match the stream. It matches ErrWrongExpectedVersion.
type VersionError struct {
	Stream   string
	Expected ExpectedVersion
	// Actual is the version of the stream's last event, NoVersion if none.
	Actual int64
}

func (e *VersionError) Error() string {
	actual := "no stream"
	if e.Actual != NoVersion {
		actual = fmt.Sprint(e.Actual)
	}
	return fmt.Sprintf("append to %s: wrong expected version: expected %s, stream is at %s",
		e.Stream, e.Expected, actual)
}

// Unwrap lets errors.Is(err, ErrWrongExpectedVersion) match.
func (e *VersionError) Unwrap() error { return ErrWrongExpectedVersion }
