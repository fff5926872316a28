// Package domain holds the order and stock deciders of orderstore: the
// events, commands and rules, with no I/O and no clock reads.
//
// # Deciders
//
// An order's state is rebuilt by folding its events ([Fold], [Evolve]).
// [Decide] takes that state, a [Command] and the current time, and returns
// the new events or an error; it never changes the state it is given.
// Stock receipts have no state to check: [DecideStock] only validates.
//
// Under the reserve stock policy a SKU's stock stream is a decider too:
// [Stock] is folded with [Stock.Apply] and [DecideReservation] reserves
// (or refuses), releases and ships an order's quantity of the SKU. Every
// such step is idempotent per (order, SKU): repeated, it decides no events.
// The fulfilment saga drives these steps and records their outcome on the
// order with [RecordStockReserved] or [Reject], and cancels an order not
// paid in time with [ExpirePayment].
//
// # Errors
//
// Decide checks, in this order: the command's own values ([ErrInvalid],
// as a [*ValidationError]), that the order exists ([ErrOrderNotFound]) or
// does not ([ErrOrderExists]), that the command is allowed in the order's
// state ([ErrNotAllowed], as a [*StateError]), and finally the rules that
// depend on the state, such as the payment amount ([ErrInvalid] again).
//
// # Events
//
// Event type names, JSON field names and stream names ([OrderStream],
// [StockStream]) are stored data: they are only ever extended. [Encode] and
// [Decode] convert events to and from their JSON payloads. Decode does not
// apply the business rules: a stored event is a fact.
package domain
