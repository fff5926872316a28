// Package eventstore is the port between orderstore's logic and the storage
// that keeps its history.
//
// # Model
//
// A store holds named streams of events. Within a stream every event has a
// version: the first event of a stream has version 0, the next 1, and so on.
// Across all streams every recorded event also has a global position that is
// strictly increasing in commit order and never reused. The sequence of all
// events ordered by position is called $all.
//
// # Guarantees every backend gives
//
//   - Append is atomic: all of its events are recorded, or none.
//   - Append checks an [ExpectedVersion] and fails with a [*VersionError]
//     (matching [ErrWrongExpectedVersion]) when the stream is elsewhere.
//   - Append is idempotent by event ID: re-appending events whose IDs were
//     already recorded at the same place succeeds and writes nothing.
//   - A subscriber that has seen position P never later receives an event
//     with a position below P: positions become visible in order, without
//     gaps that fill in later.
//
// The package storetest holds the executable form of these rules; every
// backend runs it.
package eventstore
