// Package fulfilment is the fulfilment saga: a process manager that
// reserves the stock of orders placed under the reserve stock policy,
// across their order-<id> stream and the stock-<sku> streams of their
// lines, without a transaction spanning streams.
//
// # Flow
//
// [Saga.Run] follows $all from a checkpoint file and reacts to the events
// of each such order (OrderPlaced with reserve_stock, and every later
// event of its stream). For each, it reconciles the order with its stock:
// it loads the order's stream and brings every SKU the order ever had to
// what the order's state asks for, through the stock decider
// ([domain.DecideReservation]):
//
//   - placed or paid: each line reserved (quantity grown when a line was
//     added to), removed lines released. When every line is reserved the
//     order records it (OrderStockReserved). When a line is refused, the
//     saga compensates: it releases what it had reserved for the order on
//     every SKU, then rejects the order (OrderRejected, with the SKUs
//     short, refunding a payment that raced the rejection). A line added
//     later that cannot be reserved rejects the order the same way.
//   - cancelled or rejected: everything released.
//   - shipped: the lines' reservations become shipped (StockShipped),
//     removed lines released.
//
// A placement, the stream's first event, is reacted to without reading
// the stream when the store knows in process that it is still the
// stream's only event (the embedded store: eventstore.StreamVersioner):
// the placement is then all there is to fold, as a read would show it. The
// reaction to the saga's own OrderStockReserved folds that event, as
// recorded, into the order the saga remembered before its step.
//
// [Saga.FireDeadlines] cancels orders whose stock has been reserved for
// the payment timeout without a payment (ExpirePayment, reason
// payment_timeout); their stock is then released as for any cancellation.
//
// # Exactly once in effect
//
// Delivery is at-least-once (the checkpoint is saved after each batch),
// and the saga may run in several replicas on one KurrentDB at once. Its
// effects are made idempotent by the streams themselves: every step is
// decided on the stream's state and appended with that state's exact
// version, so a step already taken decides no events, and two runners
// racing for a step conflict and the loser re-reads and finds it done.
// Event IDs are derived from the triggering event, the step, the stream
// and the expected version, so that two runners deciding the same step at
// the same version write the same events, which the store recognises as
// one append. Every event the saga writes carries causation_id = the
// triggering event's ID, correlation_id = the order's (that of its
// OrderPlaced) and actor "fulfilment".
//
// The saga's state is the streams: nothing but the checkpoint is kept
// outside them, and losing the checkpoint only replays events, which
// changes nothing. Payment deadlines are derived from the order streams
// too: the saga keeps those it saw in memory and, after a restart, asks a
// [Deadlines] source (the fulfilment read model) for the rest.
//
// # Failures
//
// A store that is unavailable or closed stops the batch, which is retried
// from the checkpoint with backoff. Any other error is particular to an
// order (an event that does not decode, conflicts through every retry):
// the saga records it as the order's failure ([Saga.Failure], shown by
// GET /orders/{id}/fulfilment and counted in metrics), logs it, and goes
// on; the order's next event, or a restart, retries it.
package fulfilment
