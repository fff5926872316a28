package webhooks

import (
	"errors"
)

var (
	// ErrNotFound is returned for an endpoint or a delivery that does not
	// exist (or no longer does).
	ErrNotFound = errors.New("not found")

	// ErrInvalid is matched by every [*ValidationError]: a registration
	// or a query the notifier refuses before changing anything.
	ErrInvalid = errors.New("invalid webhook request")

	// ErrPrivateTarget is returned when an endpoint's URL resolves to a
	// loopback, private, link-local, metadata or otherwise internal
	// address and the notifier was not opened with AllowPrivate. Matched
	// both at registration and by the attempt's error at connect time.
	ErrPrivateTarget = errors.New("target address is internal")

	// ErrNotRetryable is returned by Retry for a delivery that is neither
	// dead nor failed: it is delivered, or already waiting for its turn.
	ErrNotRetryable = errors.New("delivery is not dead or failed")

	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("notifier closed")

	// ErrLocked is returned by Open when another process has the data
	// directory's webhooks open: there must be one deliverer.
	ErrLocked = errors.New("webhooks database in use by another process")

	// ErrForeignFile is returned by Open when webhooks.db is not a
	// database of this program (or of a newer layout).
	ErrForeignFile = errors.New("not an orderstore webhooks database")

	// ErrKey is returned by Open when the secrets' key is missing, malformed,
	// or not the key the stored secrets were sealed with.
	ErrKey = errors.New("webhook secrets key")
)

// ValidationError is a value the notifier refuses; Field names it as the
// API does (url, events[1], from_position, state). It matches ErrInvalid.
type ValidationError struct {
	Field string
	Msg   string
	// Private tells a target refused as internal (it then also matches
	// ErrPrivateTarget).
	Private bool
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

// Is lets errors.Is match ErrInvalid, and ErrPrivateTarget for a target
// refused as internal.
func (e *ValidationError) Is(target error) bool {
	return target == ErrInvalid || e.Private && target == ErrPrivateTarget //nolint:errorlint // sentinels
}
