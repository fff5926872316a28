// Package kurrentdb is the event store backed by a KurrentDB (EventStoreDB)
// node or cluster, through github.com/EventStore/EventStore-Client-Go/v4. It
// is the only package of orderstore that imports that client, and no type of
// the client leaves it: errors come back as the port's errors with the
// client's text.
//
// # Mapping
//
// Stream versions are KurrentDB stream revisions. Appends always send the
// caller's event IDs, so the server's per-stream deduplication makes a
// retried append with the same IDs and expected version a no-op: durably
// for an exact version or NoStream, best effort (a server cache) for Any and
// StreamExists. The server does not refuse recorded IDs appended at the
// stream's current version.
//
// # View
//
// $all holds the server's own events (an event type or stream name starting
// with '$') and, on a shared cluster, other applications'. The store shows
// a view of it: the non-system events, and with Options.StreamPrefixes
// only those of streams with one of the prefixes. Every read of $all
// applies the view: Subscribe asks the server to filter and checks each
// event, ReadAll reads on until it has limit events of the view, Head is
// the position of the last event of the view (0 if none). So the three show
// one log: ReadAll pages and a subscription deliver the same events, and
// Head is the position of the last one. Append and ReadStream are not
// narrowed.
//
// # Positions
//
// KurrentDB places an event in $all by a pair of byte offsets in its log,
// (commit, prepare). An append writes each event as a record of its own
// that commits itself, so each has (offset, offset): a distinct pair per
// event, also within an append of several (server source: AllReader.cs and
// IndexCommitter.cs take the prepare's own offset as commit position,
// StorageWriterService.cs writes every event of an append with
// PrepareFlags.IsCommitted). The port's position of an event is its commit
// offset: strictly increasing along $all, sparse (most numbers are not
// positions), and a place to resume from exactly, since the server starts
// a read or subscription at the record at that offset.
//
// Events of legacy explicit transactions (the TCP protocol's
// TransactionStart/Commit, which old databases may hold) are the
// exception: they share the offset of their commit record as commit
// position. Inside the package events are ordered by the whole pair, so
// none of them is taken for another and dropped, and a ReadAll page that
// reaches its limit inside such a group takes the rest of it, since
// reading after the shared position skips the whole group. A consumer that
// saves a position in the middle of one (a subscription batch may end
// there) and resumes from it still skips the rest of the group: one number
// cannot tell apart events that only their prepare offsets do, and a
// prepare offset is no token either, being neither increasing along $all
// (a transaction's prepares come before records committed ahead of it) nor
// a place to resume from. Appends never write such groups.
//
// ReadAll and Subscribe refuse with eventstore.ErrInvalidPosition an after
// that is not 0 or the position of an event (of any stream). The server
// refuses a read from inside a record (the bytes there do not parse as
// one), but in a scavenged chunk it moves on to the next record, and past
// the last record it answers with nothing, or, for a subscription, waits
// for the log to grow there. So ReadAll checks that the first event it
// reads is committed at after, and Subscribe does so with a read of one
// event before subscribing. A position whose event a scavenge removed is
// refused too: resume from an earlier one.
//
// # Leader
//
// The service reads its own writes, so every call is served by the
// cluster's leader: calls carry the requires-leader header, which makes a
// follower refuse them and name the leader, and the client then reconnects
// to it (the call fails with ErrUnavailable, a retry succeeds). The client
// does not send that header itself, whatever its RequiresLeader options
// say, so the package adds it to each call's context. A connection string
// with a nodePreference other than leader is refused.
//
// # Connection
//
// Open takes a connection string, esdb://host:2113?tls=false for one node or
// esdb+discover://name:2113 for a cluster, and does no I/O: the service can
// start while the server is down and report not-ready through Ping.
//
// The client has traps that this package works around. A failed node
// discovery kills a client for good, so a client that reports the connection
// closed or unavailable is replaced by a new one, with backoff between
// attempts. Callers that arrive while a discovery is failing hang forever and
// ignore their context, so until a client has reached the server its calls
// run one at a time, and every call runs in a goroutine of its own so that
// the caller returns when its context ends, whatever the client does. The
// client's reader panics on messages it does not expect: a panic ends only
// the call or subscription it happened in, with an error matching
// ErrUnavailable, and the client is replaced.
package kurrentdb
