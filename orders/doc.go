// Package orders is the application service between the HTTP API and the
// domain: it loads an order's stream, folds it into state, asks the domain
// to decide, and appends the resulting events with the loaded version as the
// expected version.
//
// # Concurrency
//
// A conflicting concurrent writer shows up as a version error from the
// store. Without a version pinned by the caller (If-Match), the service
// reloads and decides again, a bounded number of times; with one, the
// conflict is returned for the caller to resolve.
//
// # Idempotency
//
// A command carrying an idempotency key gets event IDs derived from (stream,
// key, index), and its events record the key and a hash of the request in
// their metadata. A retry finds its own events in the loaded stream and
// replays the first outcome; the store recognises a retry that races the
// first attempt by the same IDs at the same place (the append carries the
// version loaded). Both hold on every backend and across restarts, because
// the record is the event history itself. Keyed stock receipts take the
// same path; only receipts without a key append with Any, without reading
// their stream: a store recognises an Any retry only as far as it
// remembers (KurrentDB: a bounded cache), so no key may depend on it.
package orders
