package eventstore

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Filter selects events of $all by what stores index. Every field that is
// set must match; the zero Filter selects every event.
type Filter struct {
	// CorrelationID selects the events whose metadata has this
	// correlation_id.
	CorrelationID string
	// Type selects the events of this type.
	Type string
	// StreamPrefix selects the events of the streams whose names start
	// with it.
	StreamPrefix string
}

// IsZero reports whether f selects every event.
func (f Filter) IsZero() bool { return f == Filter{} }

// Match reports whether e is one of the events f selects: the definition
// every backend's index implements, and what a subscriber that filters by
// itself (a live stream) applies.
func (f Filter) Match(e RecordedEvent) bool {
	if f.Type != "" && e.Type != f.Type {
		return false
	}
	if f.StreamPrefix != "" && !strings.HasPrefix(e.Stream, f.StreamPrefix) {
		return false
	}
	if f.CorrelationID != "" {
		// Most events are not of the flow: look for the value's bytes
		// before decoding the metadata.
		if !bytes.Contains(e.Metadata, []byte(f.CorrelationID)) && !bytes.Contains(e.Metadata, []byte(`\u`)) {
			return false
		}
		return CorrelationID(e.Metadata) == f.CorrelationID
	}
	return true
}

// CorrelationID returns the correlation_id of event metadata, "" if it has
// none.
func CorrelationID(metadata json.RawMessage) string {
	var m struct {
		CorrelationID string `json:"correlation_id"`
	}
	if json.Unmarshal(metadata, &m) != nil {
		return ""
	}
	return m.CorrelationID
}
