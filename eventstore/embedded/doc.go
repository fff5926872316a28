// Package embedded is the default event store: one local data directory, no
// server, durable on acknowledgement.
//
// # Storage
//
// Events live in a SQLite database (modernc.org/sqlite, pure Go) in
// write-ahead-log mode with synchronous=FULL, so a commit is fsynced before
// it is acknowledged. Positions are SQLite row IDs assigned by the store.
// Idempotent retries are recognised from the stream's own index (see
// Append), so they hold durably, not just within a cache window. Besides
// the (stream, version) index, only appends with Any or StreamExists index
// their events' IDs: an exact append's retry names its place, and a
// NoStream append's events (up to 16; larger ones are indexed) lead
// their stream, where a retry with Any finds them. Files are at schema
// version 2 since: a binary of version 1 would miss those retries, so it
// refuses them. On the order path, where every command creates a stream,
// that index took 2.8 of the 13.8 pages a commit wrote (the WAL's frames
// after 3 s of wrk, mapped to their b-trees with SQLite's dbstat); without
// it, placing orders straight through the orders service ran at about
// 33,800 orders/s instead of 27,000 (BenchmarkFulfilment/Throughput's
// track_orders/s, medians of 4 alternated runs).
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
// requests in progress lack. So commands announce themselves
// (eventstore.GroupCommitter: the API once a request is authorized, the
// orders service for any caller), and while some are in progress the
// writer holds its commit, at most Options.CommitHold (150µs), committing
// as soon as none is left, as PostgreSQL's commit_delay does while
// commit_siblings transactions are active. A single writer, the
// projections and the saga announce nothing and are never held. A command
// that waits for an order's lock stops counting while it waits
// (GroupCommitter.Wait): the lock's holder may be the very append the
// commit holds, so it could not join the commit anyway, and counting it
// made every commit on a hot order wait out the hold. CommitHold < 0
// turns it off.
//
// Measured with BenchmarkHTTP and BenchmarkHotOrder (package api),
// alternating binaries in one sitting, 5 rounds each: POST /orders at 64
// clients on distinct orders ran at 11,000 req/s with the earlier 500µs
// hold that counted lock waiters and at 12,000 with this one, on a loaded
// machine (on a quiet one: about 16,500 and 19,500, and 18,400 with the
// hold off); 16 clients on one order ran at 350 commands/s before and 555
// now, as fast as with the hold off.
//
// # Versions in memory
//
// After each commit the writer records the version each appended stream
// reached (up to 65,536 streams, then it starts over), so that
// StreamVersion answers without a query for the streams written since
// Open (eventstore.StreamVersioner). The fulfilment saga asks it whether
// a placement is still its order's only event, and then reacts to the
// placement without reading the order. $all (ReadAll, ReadFiltered,
// Subscribe) shows a commit once the writer has published it, after
// recording its versions, so a follower of $all never meets an event
// StreamVersion does not know yet.
//
// # Ownership
//
// One process owns a data directory at a time: Open takes an exclusive lock
// on a LOCK file inside it and fails with ErrLocked while another process
// holds it.
package embedded
