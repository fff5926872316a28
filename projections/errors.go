package projections

import "errors"

var (
	// ErrUnknownProjection is returned by Rebuild, RebuildOffline and
	// WaitFor for a name that is not a projection ("all" is accepted by the
	// first two).
	ErrUnknownProjection = errors.New("unknown projection")

	// ErrRebuildRunning is returned by Rebuild when a rebuild of the
	// projection (or of one of them, for "all") is already under way.
	ErrRebuildRunning = errors.New("rebuild already running")

	// ErrFailed is matched by the error WaitFor returns when the projection
	// has failed (at an event it cannot apply, or on a checkpoint of
	// another store) before reaching the position waited for. The error
	// also wraps the projection's own error.
	ErrFailed = errors.New("projection failed")

	// ErrLocked is returned by Open and RebuildOffline when another process
	// has the read models of the data directory open.
	ErrLocked = errors.New("read models in use by another process")

	// ErrForeignFile is returned by Open when readmodels.db was not made by
	// orderstore or has a newer layout than this binary knows.
	ErrForeignFile = errors.New("not an orderstore read-model database")

	// ErrClosed is returned by Run and Rebuild after Close.
	ErrClosed = errors.New("projections closed")
)
