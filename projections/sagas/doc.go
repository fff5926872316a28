// Package sagas is the fulfilment read model: for each order placed under
// the reserve stock policy, the state of its fulfilment saga and the steps
// it took (reservations, refusals, releases, shipments, the order's own
// milestones), built from the order and stock events like any projection,
// so that it is rebuilt from $all and every replica shows the same.
//
// Its name is "fulfilment". It backs GET /orders/{id}/fulfilment, the
// sagas-by-state metrics, and the payment deadlines the saga finds again
// after a restart (PaymentsDue): the time an order's stock was first
// reserved is kept, and the deadline is that plus the timeout the saga is
// configured with, so the read model does not depend on configuration.
//
// States: reserving (placed, or a line added, until every line is
// reserved), reserved, compensating (a line was refused: releasing before
// the rejection), rejected, cancelled, shipped.
package sagas
