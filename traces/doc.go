// Package traces builds the causal tree of a flow: every event that
// carries one correlation ID, the request that caused each (its
// causation_id, the request's X-Request-ID) or the event that caused it
// (an event written by a consumer in reaction to another), and what each
// consumer did with each event.
//
// # Model
//
// A [Trace] is a list of [Node]s, each with an ID, a parent (none for a
// root) and a kind: "request", "event", "projection", and for consumers
// that plug in, "saga" and "delivery". The events come from the store's
// correlation index ([eventstore.Store.ReadFiltered]); request nodes are
// made from the metadata the orders service records with every event
// (request, requested_at, actor, traceparent); every other node comes from
// a [Source].
//
// # Sources
//
// A consumer that acts on events contributes its nodes by implementing
// [Source]: given the flow's events it returns nodes whose parents are
// event IDs (or its own nodes). [Projections] is the source of the read
// models. A process manager (the fulfilment saga) returns a node per step,
// kind "saga"; a notifier a node per delivery attempt, kind "delivery".
// The events a consumer writes need no source: their causation_id names
// the event that triggered them, and the builder links them.
package traces
