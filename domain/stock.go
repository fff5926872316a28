package domain

import (
	"fmt"
	"time"
)

// ReceiveStock records goods received for a SKU.
type ReceiveStock struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

// CommandName returns "receive_stock".
func (ReceiveStock) CommandName() string { return cmdReceiveStock }

// DecideStock returns the StockReceived event for cmd, stamped with now in
// UTC, or a *ValidationError (ErrInvalid) for an invalid SKU or quantity.
// Receipts need no state: a valid one is always allowed.
func DecideStock(cmd ReceiveStock, now time.Time) ([]Event, error) {
	if err := checkID("sku", cmd.SKU); err != nil {
		return nil, err
	}
	if err := checkQuantity("quantity", cmd.Quantity); err != nil {
		return nil, err
	}
	return []Event{StockReceived{SKU: cmd.SKU, Quantity: cmd.Quantity, ReceivedAt: now.UTC()}}, nil
}

// Reasons of a StockReleased.
const (
	// ReleaseLineRemoved gives back the reservation of a line removed from
	// an order that stays open (or the part of it above a line's quantity).
	ReleaseLineRemoved = "line_removed"
	// ReleaseCancelled, ReleaseRejected and ReleasePaymentTimeout end the
	// order's reservation on the SKU.
	ReleaseCancelled      = "cancelled"
	ReleaseRejected       = "rejected"
	ReleasePaymentTimeout = "payment_timeout"
)

// StockHold is what a SKU's stock stream holds for one order.
type StockHold struct {
	// Reserved is the quantity reserved for the order.
	Reserved int64
	// Refused tells that a reservation for the order was refused: the
	// order is to be rejected, and its further reservations on the SKU are
	// refused too, so that a repeated step decides the same.
	Refused bool
	// Requested and Available are those of the refusal.
	Requested, Available int64
	// Closed tells that the order's reservation on the SKU ended (released
	// for good, or shipped): nothing more is reserved for it, so that a
	// step decided on an out-of-date view of the order (a second runner's)
	// cannot reserve again for an order that has ended.
	Closed bool
}

// Stock is the state of a SKU's stock stream, rebuilt by Apply. Unlike
// Order it is updated in place: a stock stream holds an event per
// reservation step of every order of the SKU, and copying its holds at
// each event would make folding it quadratic. DecideReservation does not
// modify it.
type Stock struct {
	SKU                         string
	Received, Reserved, Shipped int64
	// Holds has an entry for each order that has had a reservation or a
	// refusal on the SKU.
	Holds map[string]StockHold
}

// Available returns received − shipped − reserved.
func (s *Stock) Available() int64 { return s.Received - s.Shipped - s.Reserved }

// Apply applies e to s; events of other types leave it unchanged.
func (s *Stock) Apply(e Event) {
	if s.Holds == nil {
		s.Holds = make(map[string]StockHold)
	}
	switch e := e.(type) {
	case StockReceived:
		s.SKU = e.SKU
		s.Received += e.Quantity
	case StockReserved:
		s.SKU = e.SKU
		h := s.Holds[e.OrderID]
		h.Reserved += e.Quantity
		s.Holds[e.OrderID] = h
		s.Reserved += e.Quantity
	case StockReservationRefused:
		s.SKU = e.SKU
		h := s.Holds[e.OrderID]
		h.Refused, h.Requested, h.Available = true, e.Requested, e.Available
		s.Holds[e.OrderID] = h
	case StockReleased:
		h := s.Holds[e.OrderID]
		h.Reserved -= e.Quantity
		h.Closed = h.Closed || e.Reason != ReleaseLineRemoved
		s.Holds[e.OrderID] = h
		s.Reserved -= e.Quantity
	case StockShipped:
		h := s.Holds[e.OrderID]
		h.Reserved -= e.Quantity
		h.Closed = true
		s.Holds[e.OrderID] = h
		s.Reserved -= e.Quantity
		s.Shipped += e.Quantity
	}
}

// ReserveStock brings the quantity of a SKU reserved for an order to
// Quantity (the order's line).
type ReserveStock struct {
	OrderID  string
	Quantity int64
}

// ReleaseStock gives back what a SKU holds for an order, for Reason (one
// of the Release* reasons).
type ReleaseStock struct {
	OrderID string
	Reason  string
}

// ShipStock turns what a SKU holds for an order into shipped goods.
type ShipStock struct {
	OrderID string
}

// CommandName returns "reserve_stock".
func (ReserveStock) CommandName() string { return cmdReserveStock }

// CommandName returns "release_stock".
func (ReleaseStock) CommandName() string { return cmdReleaseStock }

// CommandName returns "ship_stock".
func (ShipStock) CommandName() string { return cmdShipStock }

// DecideReservation returns the events that carry out cmd (ReserveStock,
// ReleaseStock or ShipStock) on a SKU's stock s at time now, or a
// *ValidationError (ErrInvalid) for an invalid command. Every step is
// idempotent per order: it returns no events (and no error) when s already
// is as the command asks, so that a repeated step changes nothing. A
// reservation beyond what is available is not an error but a
// StockReservationRefused; once refused, an order's reservations on the
// SKU stay refused, and once released for good (or shipped), reserving
// for it again decides nothing.
func DecideReservation(s *Stock, cmd Command, now time.Time) ([]Event, error) {
	now = now.UTC()
	switch c := cmd.(type) {
	case ReserveStock:
		if err := checkID("order_id", c.OrderID); err != nil {
			return nil, err
		}
		if err := checkQuantity("quantity", c.Quantity); err != nil {
			return nil, err
		}
		h := s.Holds[c.OrderID]
		switch {
		case h.Closed, h.Refused, h.Reserved == c.Quantity:
			return nil, nil
		case h.Reserved > c.Quantity:
			return []Event{StockReleased{SKU: s.SKU, OrderID: c.OrderID, Quantity: h.Reserved - c.Quantity,
				Reason: ReleaseLineRemoved, ReleasedAt: now}}, nil
		}
		need := c.Quantity - h.Reserved
		if avail := s.Available(); need > avail {
			return []Event{StockReservationRefused{SKU: s.SKU, OrderID: c.OrderID, Requested: need,
				Available: max(avail, 0), RefusedAt: now}}, nil
		}
		return []Event{StockReserved{SKU: s.SKU, OrderID: c.OrderID, Quantity: need, ReservedAt: now}}, nil
	case ReleaseStock:
		if err := checkID("order_id", c.OrderID); err != nil {
			return nil, err
		}
		switch c.Reason {
		case ReleaseLineRemoved, ReleaseCancelled, ReleaseRejected, ReleasePaymentTimeout:
		default:
			return nil, invalid("reason", fmt.Sprintf("unknown release reason %q", c.Reason))
		}
		h := s.Holds[c.OrderID]
		if h.Reserved == 0 {
			return nil, nil
		}
		return []Event{StockReleased{SKU: s.SKU, OrderID: c.OrderID, Quantity: h.Reserved, Reason: c.Reason, ReleasedAt: now}}, nil
	case ShipStock:
		if err := checkID("order_id", c.OrderID); err != nil {
			return nil, err
		}
		h := s.Holds[c.OrderID]
		if h.Reserved == 0 {
			return nil, nil
		}
		return []Event{StockShipped{SKU: s.SKU, OrderID: c.OrderID, Quantity: h.Reserved, ShippedAt: now}}, nil
	}
	return nil, invalid("command", fmt.Sprintf("%T is not a stock reservation command", cmd))
}
