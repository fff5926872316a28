package eventstore

import "strconv"

// ExpectedVersion is the condition an append puts on the stream's current
// version. Values ≥ 0 are exact versions: the version of the stream's last
// event. The negative values are the named conditions below.
type ExpectedVersion int64

const (
	// Any appends whatever the stream's state, creating it if needed.
	Any ExpectedVersion = -2
	// NoStream appends only if the stream has no events yet.
	NoStream ExpectedVersion = -1
	// StreamExists appends only if the stream has at least one event.
	StreamExists ExpectedVersion = -4
)

// Exact returns the condition "the stream's last event has version v".
func Exact(v int64) ExpectedVersion { return ExpectedVersion(v) }

// IsExact reports whether e names an exact version.
func (e ExpectedVersion) IsExact() bool { return e >= 0 }

// String returns the condition's name or its exact version.
func (e ExpectedVersion) String() string {
	switch e {
	case Any:
		return "any"
	case NoStream:
		return "no stream"
	case StreamExists:
		return "stream exists"
	}
	if e >= 0 {
		return strconv.FormatInt(int64(e), 10)
	}
	return "invalid(" + strconv.FormatInt(int64(e), 10) + ")"
}

// Valid reports whether e is one of the named conditions or an exact version.
func (e ExpectedVersion) Valid() bool {
	return e >= 0 || e == Any || e == NoStream || e == StreamExists
}

// Matches reports whether a stream whose last event has version actual
// (NoVersion when the stream has no events) satisfies e.
func (e ExpectedVersion) Matches(actual int64) bool {
	switch e {
	case Any:
		return true
	case NoStream:
		return actual == NoVersion
	case StreamExists:
		return actual != NoVersion
	}
	return int64(e) == actual
}

// NoVersion is the version reported for a stream that has no events.
const NoVersion int64 = -1
