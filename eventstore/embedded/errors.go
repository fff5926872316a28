package embedded

import (
	"errors"
	"fmt"

	"github.com/orderstore/orderstore/eventstore"
)

var (
	// ErrLocked is returned by Open when another process holds the data
	// directory.
	ErrLocked = errors.New("data directory in use by another process")

	// ErrForeignFile is returned by Open when the database file in the data
	// directory was not made by orderstore or is of a newer, unknown schema.
	ErrForeignFile = errors.New("not an orderstore event database")
)

// storageError reports a failure of the storage engine as the port's
// ErrUnavailable. The engine's error is kept as text only, so that no driver
// type leaves the adapter.
type storageError struct {
	op  string
	msg string
}

func (e *storageError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.op, eventstore.ErrUnavailable, e.msg)
}

func (e *storageError) Unwrap() error { return eventstore.ErrUnavailable }

func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	return &storageError{op: op, msg: err.Error()}
}
