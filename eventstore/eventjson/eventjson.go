package eventjson

import (
	"encoding/json"
	"time"

	"github.com/orderstore/orderstore/eventstore"
)

// Event is one recorded event as the API shows it (components.schemas.Event
// of api/openapi.json).
type Event struct {
	ID         string          `json:"id"`
	Position   uint64          `json:"position"`
	Stream     string          `json:"stream"`
	Version    int64           `json:"version"`
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
	Metadata   json.RawMessage `json:"metadata"`
	RecordedAt time.Time       `json:"recorded_at"`
}

// From returns the JSON form of e. Empty metadata shows as {}.
func From(e eventstore.RecordedEvent) Event {
	meta := e.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage("{}")
	}
	return Event{ID: e.ID.String(), Position: e.Position, Stream: e.Stream, Version: e.Version,
		Type: e.Type, Data: e.Data, Metadata: meta, RecordedAt: e.RecordedAt}
}

// FromAll returns the JSON form of each event of recorded, never nil.
func FromAll(recorded []eventstore.RecordedEvent) []Event {
	out := make([]Event, len(recorded))
	for i, e := range recorded {
		out[i] = From(e)
	}
	return out
}
