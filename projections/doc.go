// Package projections turns the global event log ($all) into read models,
// stock, analytics and the order list (orders), and serves them.
//
// # Running
//
// [Open] opens the read models in the data directory's readmodels.db, a
// SQLite database of their own (WAL mode), separate from the event store so
// that the same read models work over any backend. [Manager.Run] follows
// $all for each projection from its checkpoint: first a pipelined replay
// (read, decode and apply on separate goroutines, large transactions), then
// a subscription. Each batch is applied in one transaction together with the
// projection's new checkpoint, and events at or before the checkpoint are
// skipped, so at-least-once delivery and crashes never count an event twice
// nor skip one.
//
// Every projection follows orders through their lifecycle, so each keeps
// the state of open orders in a table of its own. While replaying history, a
// projection also keeps a bounded write-through cache of that table in
// memory (8 MiB, some 40,000 orders): a transaction reads back from the
// table only orders the cache lacks, and a rebuild into fresh tables reads
// back none until the cache overflows. The cache learns each transaction's
// outcome, so a rolled-back batch leaves nothing in it; it is dropped once
// the projection is live, where batches are small.
//
// Events of types the domain does not know are skipped and counted
// (skipped_events). An event a projection cannot apply (a malformed payload,
// an order event that does not fit the order's state) stops that projection
// in state failed, with the error and the event's position in its status,
// right after committing the events before it; the other projections go
// on. A rebuild or a restart retries.
//
// # Positions and the store's identity
//
// Positions are tokens of the event store: on KurrentDB they are log
// offsets, sparse, and the log may hold other applications' events. The
// runner carries positions it read (each event knows the position of the
// one before it, which is where the checkpoint stands if it fails) and
// computes none; lag counts the events after the checkpoint by reading
// them (up to 1000). A checkpoint also records the store it belongs to:
// that store's first event. At each start the runner checks that the
// store still has that event and that its head is not behind the
// checkpoint; if not (the store was reset, or the read models were copied
// onto another one), the projection fails with that reason, instead of
// skipping every event while showing live, and a rebuild is the way out.
//
// # Read-your-writes
//
// Queries return the position their read model reflects. [Manager.WaitFor]
// blocks until a projection has reached a position, woken by each commit.
//
// # Rebuilds
//
// A projection's tables belong to a numbered generation (stock_g3_items, …)
// and its checkpoint row names the live one. A rebuild fills the next
// generation from the start of $all while the live tables keep serving and
// following; when the shadow has caught up, one transaction, holding off
// live batches, applies the remaining tail to it and switches the checkpoint
// to it. The old tables are dropped afterwards. [Manager.Rebuild] does this
// online; [RebuildOffline] does it for the command line. Bumping a
// projection's version gives it fresh tables at startup, refilled by Run.
//
// # Metrics
//
// With a Prometheus registerer, per projection (label "projection"):
// orderstore_projection_position, orderstore_projection_lag_events,
// orderstore_projection_lag_seconds, orderstore_projection_skipped_events_total
// and orderstore_projection_state (label "state", 1 for the current state),
// refreshed every second while Run runs.
package projections
