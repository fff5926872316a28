// Package webhooks is the notification consumer: it delivers the event log
// to registered HTTP endpoints as signed webhooks (the Standard Webhooks
// conventions), at least once, in order per stream, without ever slowing
// the order path.
//
// # Storage
//
// Endpoints, their secrets (sealed with AES-256-GCM under a key kept out of
// the database), each endpoint's checkpoint in $all and its deliveries live
// in webhooks.db, a SQLite database in the data directory, every commit
// synced. Nothing of it goes into the event log.
//
// # Delivery
//
// Each endpoint has a worker. It takes the events after its checkpoint
// from the log into memory, up to a bounded window of undelivered
// deliveries: however long a receiver is down, the rest waits in the log.
// A delivery's row is written once, with its first outcome, and the
// checkpoint moves in the same transaction, never past a delivery without
// a row; after a crash the events after the checkpoint are read again and
// those with a row are skipped. Deliveries of one stream go one at a time
// in stream order (the next is sent once the previous is answered 2xx or
// dead); different streams go concurrently, up to Options.Concurrency
// sent per endpoint and three times as many answered whose outcome awaits
// its commit. A crash re-sends at most those (four times
// Options.Concurrency per endpoint), with the same webhook-id.
//
// A dead-lettered delivery does not hold its stream: the stream's later
// events are delivered after it is dead, and a retry by hand delivers the
// dead one then, out of order (its body's version tells). See
// docs/webhooks.md.
package webhooks
