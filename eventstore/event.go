package eventstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// EventData is an event to append.
type EventData struct {
	// ID identifies the event. It must not be the zero UUID: appending the
	// same ID twice at the same place is what makes retries safe, so IDs
	// are the caller's choice (often derived from the command).
	ID uuid.UUID
	// Type names the event, e.g. "OrderPlaced".
	Type string
	// Data is the JSON payload.
	Data json.RawMessage
	// Metadata is a JSON object (correlation and causation IDs, schema).
	// It may be empty.
	Metadata json.RawMessage
}

// Validate reports the first problem that makes d unfit for appending.
func (d EventData) Validate() error {
	switch {
	case d.ID == uuid.Nil:
		return fmt.Errorf("%w: event ID is the zero UUID", ErrInvalidArgument)
	case d.Type == "":
		return fmt.Errorf("%w: event %s has no type", ErrInvalidArgument, d.ID)
	case !json.Valid(d.Data):
		return fmt.Errorf("%w: event %s data is not valid JSON", ErrInvalidArgument, d.ID)
	case len(d.Metadata) > 0 && !json.Valid(d.Metadata):
		return fmt.Errorf("%w: event %s metadata is not valid JSON", ErrInvalidArgument, d.ID)
	}
	return nil
}

// RecordedEvent is an event as the store keeps it.
type RecordedEvent struct {
	ID       uuid.UUID
	Stream   string
	Version  int64
	Position uint64
	Type     string
	Data     json.RawMessage
	Metadata json.RawMessage
	// RecordedAt is the time the store committed the event, in UTC.
	RecordedAt time.Time
}

// AppendResult tells where an append's last event was recorded.
type AppendResult struct {
	// Version is the stream version of the last appended event: the
	// expected version for the next append.
	Version int64
	// Position is the global position of the last appended event.
	Position uint64
}

// ValidateAppend reports the first problem that makes an append's arguments
// unfit, before any I/O: an empty or reserved ("$…") stream name, an
// invalid expected version, no events, an invalid event, or an event ID
// given twice. Its errors match ErrInvalidArgument. Backends call it first.
func ValidateAppend(stream string, expected ExpectedVersion, events []EventData) error {
	if stream == "" || stream[0] == '$' {
		return fmt.Errorf("append: %w: stream name %q is empty or reserved", ErrInvalidArgument, stream)
	}
	if !expected.Valid() {
		return fmt.Errorf("append %s: %w: expected version %s", stream, ErrInvalidArgument, expected)
	}
	if len(events) == 0 {
		return fmt.Errorf("append %s: %w: no events", stream, ErrInvalidArgument)
	}
	seen := make(map[uuid.UUID]bool, len(events))
	for _, e := range events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("append %s: %w", stream, err)
		}
		if seen[e.ID] {
			return fmt.Errorf("append %s: %w: event ID %s appears twice", stream, ErrInvalidArgument, e.ID)
		}
		seen[e.ID] = true
	}
	return nil
}
