// Package embedded is the default event store: one local data directory, no
// server, durable on acknowledgement.
//
// # Storage
//
// Events live in a SQLite database (modernc.org/sqlite, pure Go) in
// write-ahead-log mode with synchronous=FULL, so a commit is fsynced before
// it is acknowledged. Positions are SQLite row IDs assigned by the store.
// Idempotent retries are recognised from the stream's own index (see
// Append), so they hold durably, not just within a cache window.
//
// # Group commit
//
// All appends go through one writer goroutine that owns the only write
// connection. While one transaction commits, new appends queue; the writer
// then takes all queued appends into the next transaction, checks each
// against the stream's version, and commits them with one fsync. Every caller
// is answered after that commit. Because a single writer assigns positions
// in commit order, any committed snapshot of the log is a prefix of it:
// readers and subscribers can never see position P+1 before P.
//
// A commit costs the writer about as much CPU for one event as for dozens
// (the fsync, the log's page frames), and under load that CPU is what the
// requests on their way lack. So a caller about to append may announce it
// (Expect, eventstore.GroupCommitter; the API does for every command once
// it is authorized): while announced appends are on their way, the writer
// holds its commit for them, at most Options.CommitHold (500µs), and
// commits as soon as none is left. Appends nobody announced are never held.
// At 64 HTTP clients it takes a commit from about 10 events to about 15
// (see docs/performance.md for the order path's figures).
//
// # Ownership
//
// One process owns a data directory at a time: Open takes an exclusive lock
// on a LOCK file inside it and fails with ErrLocked while another process
// holds it.
package embedded
