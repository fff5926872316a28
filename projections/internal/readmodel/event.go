package readmodel

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/orderstore/orderstore/domain"
)

// Event is what a projection needs of a recorded event: where it is, its
// payload decoded by domain.Decode, and its metadata as recorded. The raw
// data is not kept.
type Event struct {
	// ID is the event's ID.
	ID       uuid.UUID
	Position uint64
	Stream   string
	// Version is the event's version in its stream: 0 for the first.
	Version int64
	Type    string
	// Payload is the decoded event, e.g. a domain.OrderPaid; nil for an
	// event a projection takes as recorded that nobody decoded.
	Payload domain.Event
	// Metadata is the event's metadata as recorded (shared, not copied).
	Metadata json.RawMessage
	// Prev is the position of the event read just before it from $all, of
	// any type, 0 if none was (it came first in its batch): where the
	// checkpoint stands if this event is the first one not applied.
	// Positions are tokens, so this is carried, never computed.
	Prev uint64
}

// OrderID returns the order ID named by an order stream: only OrderPlaced
// carries it in its payload.
func OrderID(stream string) (string, error) {
	id, ok := strings.CutPrefix(stream, domain.OrderStreamPrefix)
	if !ok || id == "" {
		return "", fmt.Errorf("order event in stream %q, which is not an order stream", stream)
	}
	return id, nil
}

// IsOrderEvent reports whether e belongs to an order stream.
func IsOrderEvent(e domain.Event) bool {
	switch e.(type) {
	case domain.StockReceived, domain.StockReserved, domain.StockReservationRefused, domain.StockReleased, domain.StockShipped:
		return false
	}
	return true
}

// StorageError is a failure of the read-model database itself (a full disk,
// a busy file), as opposed to an event that cannot be applied: the runner
// retries it with backoff instead of marking the projection failed.
type StorageError struct{ Err error }

func (e *StorageError) Error() string { return e.Err.Error() }

// Unwrap returns the database's error.
func (e *StorageError) Unwrap() error { return e.Err }

// Storage marks err, if not nil, as a StorageError.
func Storage(err error) error {
	if err == nil {
		return nil
	}
	return &StorageError{Err: err}
}
