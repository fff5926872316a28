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
// # Positions
//
// A position is an opaque token. Positions increase along $all, but they
// need not be consecutive: KurrentDB's are byte offsets in its log, so
// most integers are not positions, and the log may hold events of other
// applications that a store configured with a stream filter does not show.
// Only 0 (the beginning) and the positions a store returned (in
// RecordedEvent.Position, AppendResult.Position or Head) may be given back
// to it as an after: compute none (p+1, p-1), and do not use a position
// of one store with another. A store refuses an after it can tell is not
// one of its positions with ErrInvalidPosition; every store refuses one
// beyond its head. A distance between two positions counts events only on
// the embedded store.
//
// ReadAll, Head and Subscribe show one view of the log: the same events,
// with the same positions. A store filtered to some stream prefixes (the
// KurrentDB adapter's StreamPrefixes) applies the filter to all three.
//
// The package storetest holds the executable form of these rules; every
// backend runs it.
package eventstore
