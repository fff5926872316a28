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
// # Ownership
//
// One process owns a data directory at a time: Open takes an exclusive lock
// on a LOCK file inside it and fails with ErrLocked while another process
// holds it.
package embedded
