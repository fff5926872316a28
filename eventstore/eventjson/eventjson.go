package eventjson

import (
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/internal/plainjson"
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

// Append appends the JSON form of e to b, byte for byte as json.Marshal
// of From(e) writes it, and returns the extended slice. It writes
// directly when it can (the data and metadata as stored, when
// encoding/json would copy them unchanged), and through encoding/json
// otherwise; every live stream frame and webhook body is one.
func Append(b []byte, e eventstore.RecordedEvent) ([]byte, error) {
	meta := e.Metadata
	if len(meta) == 0 {
		meta = []byte("{}")
	}
	if asIs(e.Data) && asIs(meta) {
		w := plainjson.New(b)
		w.Key("id", true)
		var id [38]byte
		id[0], id[37] = '"', '"'
		hex.Encode(id[1:9], e.ID[:4])
		id[9] = '-'
		hex.Encode(id[10:14], e.ID[4:6])
		id[14] = '-'
		hex.Encode(id[15:19], e.ID[6:8])
		id[19] = '-'
		hex.Encode(id[20:24], e.ID[8:10])
		id[24] = '-'
		hex.Encode(id[25:37], e.ID[10:])
		w.RawBytes(id[:])
		w.Key("position", false)
		w.Uint(e.Position)
		w.Key("stream", false)
		w.Str(e.Stream)
		w.Key("version", false)
		w.Int(e.Version)
		w.Key("type", false)
		w.Str(e.Type)
		w.Key("data", false)
		w.RawBytes(e.Data)
		w.Key("metadata", false)
		w.RawBytes(meta)
		w.Key("recorded_at", false)
		w.Time(e.RecordedAt)
		if out, ok := w.End(); ok {
			return out, nil
		}
	}
	data, err := json.Marshal(From(e))
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

// asIs reports whether encoding/json writes the valid JSON raw unchanged
// as a json.RawMessage: no whitespace outside strings (which it compacts
// away) and nothing it escapes inside them (<, >, & and the line and
// paragraph separators U+2028 and U+2029).
func asIs(raw []byte) bool {
	in, escaped := false, false
	for i, c := range raw {
		switch {
		case in && escaped:
			escaped = false
		case in && c == '\\':
			escaped = true
		case c == '"':
			in = !in
		case in && (c == '<' || c == '>' || c == '&'):
			return false
		case in && c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9):
			return false
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return len(raw) > 0
}
