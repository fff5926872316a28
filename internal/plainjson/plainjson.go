// Package plainjson writes JSON objects directly, byte for byte as
// encoding/json would, for values in a plain shape: strings that need no
// escape in encoding/json's output (printable ASCII without quotes,
// backslashes or <, > and &), integers, booleans, and times in UTC or a
// whole-minute offset within years 0–9999. A value outside that shape
// turns the writer's result to not ok, and the caller falls back to
// encoding/json. Events and their metadata are written on every command;
// encoding/json's reflective encoder was a large part of that cost.
package plainjson

import (
	"strconv"
	"time"
)

// Writer appends one JSON object to a byte slice. The zero value is not
// ready: use New.
type Writer struct {
	b  []byte
	ok bool
}

// New returns a Writer that appends to b.
func New(b []byte) Writer { return Writer{b: b, ok: true} }

// Key appends the name of the next member, with the opening brace before
// the first. Names are the caller's constants and are not escaped.
func (w *Writer) Key(name string, first bool) {
	if first {
		w.b = append(w.b, '{', '"')
	} else {
		w.b = append(w.b, ',', '"')
	}
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

// Str appends s as a JSON string, or marks the result not ok if
// encoding/json would escape any of its bytes.
func (w *Writer) Str(s string) {
	for i := range len(s) {
		// encoding/json escapes control characters, quotes and
		// backslashes, and <, > and & for HTML; non-ASCII goes there too.
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			w.ok = false
			return
		}
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, s...)
	w.b = append(w.b, '"')
}

// Int appends v.
func (w *Writer) Int(v int64) { w.b = strconv.AppendInt(w.b, v, 10) }

// Uint appends v.
func (w *Writer) Uint(v uint64) { w.b = strconv.AppendUint(w.b, v, 10) }

// Time appends t as time.Time.MarshalJSON does, or marks the result not
// ok where that refuses t or writes it otherwise.
func (w *Writer) Time(t time.Time) {
	// time.Time.MarshalJSON refuses other years and offsets with seconds.
	if _, offset := t.Zone(); t.Year() < 0 || t.Year() > 9999 || offset%60 != 0 {
		w.ok = false
		return
	}
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}

// OptStr appends the member name with the string v unless v is empty, as
// encoding/json writes a string field tagged omitempty (never first).
func (w *Writer) OptStr(name, v string) {
	if v != "" {
		w.Key(name, false)
		w.Str(v)
	}
}

// Raw appends JSON the caller wrote: a literal, or punctuation of a
// nested value.
func (w *Writer) Raw(s string) { w.b = append(w.b, s...) }

// RawBytes appends JSON the caller holds as bytes, as Raw.
func (w *Writer) RawBytes(b []byte) { w.b = append(w.b, b...) }

// Bytes returns what was written and whether it is encoding/json's
// output, without closing the object.
func (w *Writer) Bytes() ([]byte, bool) { return w.b, w.ok }

// End closes the object and returns it, as Bytes.
func (w *Writer) End() ([]byte, bool) {
	w.b = append(w.b, '}')
	return w.b, w.ok
}
