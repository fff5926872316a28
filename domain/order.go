package domain

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Status is the lifecycle stage of an order. The empty Status means the
// order does not exist.
type Status string

// Order statuses: placed → paid → shipped, and cancelled from placed or
// paid; under the reserve stock policy, rejected from placed or paid when
// the order's stock cannot be reserved.
const (
	StatusPlaced    Status = "placed"
	StatusPaid      Status = "paid"
	StatusShipped   Status = "shipped"
	StatusCancelled Status = "cancelled"
	StatusRejected  Status = "rejected"
)

// Reservation is the state of an order's stock reservation.
type Reservation string

// Reservation states: none (shown as "none") for orders placed under the
// track policy;
// pending until every line is reserved (again after a line is added),
// reserved, and released once a cancellation or rejection gave it back.
// A shipped order's reservation stays reserved: it left with the goods.
const (
	ReservationNone     Reservation = ""
	ReservationPending  Reservation = "pending"
	ReservationReserved Reservation = "reserved"
	ReservationReleased Reservation = "released"
)

// Reasons recorded by the fulfilment saga.
const (
	// RejectOutOfStock is the reason of an OrderRejected for lines that
	// could not be reserved.
	RejectOutOfStock = "out_of_stock"
	// CancelPaymentTimeout is the reason of the OrderCancelled of an order
	// not paid within the payment timeout after its stock was reserved.
	CancelPaymentTimeout = "payment_timeout"
)

// Line is one SKU of an order, at a unit price in minor units.
type Line struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// Order is the state of an order, rebuilt from its events by Fold. The zero
// Order is an order that does not exist. Times are in UTC.
type Order struct {
	ID         string
	CustomerID string
	Status     Status
	Currency   string
	// Lines has one line per SKU, in the order they were added.
	Lines       []Line
	PlacedAt    time.Time
	PaidAt      time.Time
	ShippedAt   time.Time
	CancelledAt time.Time
	// CancelReason is the optional reason given on cancellation.
	CancelReason string
	// PaidAmount is the amount paid, equal to the total when paid.
	PaidAmount int64
	PaymentRef string
	Carrier    string
	Tracking   string
	// RefundedAmount is the amount refunded on cancellation or rejection
	// of a paid order.
	RefundedAmount int64
	// ReserveStock tells that the order was placed under the reserve
	// stock policy; StockReservation is empty (ReservationNone) when it
	// was not.
	ReserveStock     bool
	StockReservation Reservation
	// ReservedAt is when the order's stock was first reserved: its
	// payment deadline runs from there.
	ReservedAt time.Time
	// RejectReason and Short tell why a rejected order was rejected.
	RejectReason string
	Short        []Shortage
	RejectedAt   time.Time
}

// Total returns the sum of the order's lines, quantity times unit price, in
// minor units. Decide refuses any command whose resulting total would not
// fit in an int64.
func (o Order) Total() int64 {
	var sum int64
	for _, l := range o.Lines {
		sum += l.Quantity * l.UnitPrice
	}
	return sum
}

// Exists reports whether the order has been placed.
func (o Order) Exists() bool { return o.Status != "" }

// Fold returns the state of an order with the given events, oldest first.
func Fold(events []Event) Order {
	var o Order
	for _, e := range events {
		o = Evolve(o, e)
	}
	return o
}

// Evolve returns o with e applied. Events are facts: Evolve does not check
// them. It leaves o unchanged for an event that is not an order event, such
// as StockReceived, and never modifies o's Lines in place.
func Evolve(o Order, e Event) Order {
	switch e := e.(type) {
	case OrderPlaced:
		o.ID, o.CustomerID, o.Currency = e.OrderID, e.CustomerID, e.Currency
		o.Lines = slices.Clone(e.Lines)
		o.Status, o.PlacedAt = StatusPlaced, e.PlacedAt.UTC()
		o.ReserveStock = e.ReserveStock
		if e.ReserveStock {
			o.StockReservation = ReservationPending
		}
	case OrderLineAdded:
		if o.ReserveStock {
			o.StockReservation = ReservationPending
		}
		o.Lines = slices.Clone(o.Lines)
		if i := lineIndex(o.Lines, e.SKU); i >= 0 {
			o.Lines[i].Quantity += e.Quantity
		} else {
			o.Lines = append(o.Lines, Line{SKU: e.SKU, Quantity: e.Quantity, UnitPrice: e.UnitPrice})
		}
	case OrderLineRemoved:
		o.Lines = slices.DeleteFunc(slices.Clone(o.Lines), func(l Line) bool { return l.SKU == e.SKU })
	case OrderPaid:
		o.Status, o.PaidAmount, o.PaymentRef, o.PaidAt = StatusPaid, e.Amount, e.PaymentRef, e.PaidAt.UTC()
	case OrderShipped:
		o.Status, o.Carrier, o.Tracking, o.ShippedAt = StatusShipped, e.Carrier, e.Tracking, e.ShippedAt.UTC()
	case OrderCancelled:
		o.Status, o.CancelReason, o.RefundedAmount, o.CancelledAt = StatusCancelled, e.Reason, e.RefundedAmount, e.CancelledAt.UTC()
		if o.ReserveStock {
			o.StockReservation = ReservationReleased
		}
	case OrderStockReserved:
		o.StockReservation = ReservationReserved
		if o.ReservedAt.IsZero() {
			o.ReservedAt = e.ReservedAt.UTC()
		}
	case OrderRejected:
		o.Status, o.RejectReason, o.Short = StatusRejected, e.Reason, slices.Clone(e.Short)
		o.RefundedAmount, o.RejectedAt, o.StockReservation = e.RefundedAmount, e.RejectedAt.UTC(), ReservationReleased
	}
	return o
}

// Decide returns the events that carry out cmd on order o at time now
// (stored in UTC), or the reason it cannot: a *ValidationError (ErrInvalid),
// ErrOrderNotFound, ErrOrderExists or a *StateError (ErrNotAllowed). See the
// package documentation for the order of the checks. Decide does not modify o.
func Decide(o Order, cmd Command, now time.Time) ([]Event, error) {
	now = now.UTC()
	switch c := cmd.(type) {
	case PlaceOrder:
		return decidePlace(o, c, now)
	case AddLine:
		return decideAddLine(o, c)
	case RemoveLine:
		return decideRemoveLine(o, c)
	case Pay:
		return decidePay(o, c, now)
	case Ship:
		return decideShip(o, c, now)
	case Cancel:
		return decideCancel(o, c, now)
	case RecordStockReserved:
		return decideRecordReserved(o, c, now)
	case Reject:
		return decideReject(o, c, now)
	case ExpirePayment:
		return decideExpire(o, c, now)
	}
	return nil, invalid("command", fmt.Sprintf("%T is not an order command", cmd))
}

func decidePlace(o Order, c PlaceOrder, now time.Time) ([]Event, error) {
	if err := checkPlaceOrder(c); err != nil {
		return nil, err
	}
	if o.Exists() {
		return nil, ErrOrderExists
	}
	return []Event{OrderPlaced{
		OrderID:      c.ID,
		CustomerID:   c.CustomerID,
		Currency:     c.Currency,
		Lines:        slices.Clone(c.Lines),
		PlacedAt:     now,
		ReserveStock: c.ReserveStock,
	}}, nil
}

func checkPlaceOrder(c PlaceOrder) error {
	if err := checkID("id", c.ID); err != nil {
		return err
	}
	if err := checkID("customer_id", c.CustomerID); err != nil {
		return err
	}
	if err := checkCurrency("currency", c.Currency); err != nil {
		return err
	}
	switch {
	case len(c.Lines) == 0:
		return invalid("lines", "must have at least one line")
	case len(c.Lines) > MaxLines:
		return invalid("lines", fmt.Sprintf("must have at most %d lines", MaxLines))
	}
	for i, l := range c.Lines {
		// The field's name is built only for an error: this runs for
		// every line of every order placed.
		err := checkLine(l)
		if err == nil && lineIndex(c.Lines[:i], l.SKU) >= 0 {
			err = invalid("sku", "appears in more than one line")
		}
		if ve := (*ValidationError)(nil); errors.As(err, &ve) {
			ve.Field = fmt.Sprintf("lines[%d].%s", i, ve.Field)
		}
		if err != nil {
			return err
		}
	}
	if _, ok := checkedTotal(c.Lines); !ok {
		return invalid("lines", "the order total is too large")
	}
	return nil
}

func decideAddLine(o Order, c AddLine) ([]Event, error) {
	if err := checkLine(Line(c)); err != nil {
		return nil, err
	}
	if err := requireStatus(o, c, StatusPlaced); err != nil {
		return nil, err
	}
	if i := lineIndex(o.Lines, c.SKU); i >= 0 {
		l := o.Lines[i]
		if l.UnitPrice != c.UnitPrice {
			return nil, invalid("unit_price", fmt.Sprintf("differs from the unit price %d of %s in the order", l.UnitPrice, c.SKU))
		}
		if l.Quantity > MaxQuantity-c.Quantity {
			return nil, invalid("quantity", fmt.Sprintf("would bring %s to more than %d", c.SKU, MaxQuantity))
		}
	} else if len(o.Lines) >= MaxLines {
		return nil, invalid("lines", fmt.Sprintf("the order already has %d lines", MaxLines))
	}
	e := OrderLineAdded(c)
	if _, ok := checkedTotal(Evolve(o, e).Lines); !ok {
		return nil, invalid("quantity", "would make the order total too large")
	}
	return []Event{e}, nil
}

func decideRemoveLine(o Order, c RemoveLine) ([]Event, error) {
	if err := checkID("sku", c.SKU); err != nil {
		return nil, err
	}
	if err := requireStatus(o, c, StatusPlaced); err != nil {
		return nil, err
	}
	if lineIndex(o.Lines, c.SKU) < 0 {
		return nil, invalid("sku", c.SKU+" is not in the order")
	}
	if len(o.Lines) == 1 {
		return nil, &StateError{Status: o.Status, Command: c.CommandName(), Reason: "it is the only line; cancel the order instead"}
	}
	return []Event{OrderLineRemoved(c)}, nil
}

func decidePay(o Order, c Pay, now time.Time) ([]Event, error) {
	if c.Amount < 0 {
		return nil, invalid("amount", "must not be negative")
	}
	if err := checkLabel("payment_ref", c.PaymentRef); err != nil {
		return nil, err
	}
	if err := requireStatus(o, c, StatusPlaced); err != nil {
		return nil, err
	}
	if total, ok := checkedTotal(o.Lines); !ok || c.Amount != total {
		return nil, invalid("amount", fmt.Sprintf("must equal the order total %d", total))
	}
	return []Event{OrderPaid{Amount: c.Amount, PaymentRef: c.PaymentRef, PaidAt: now}}, nil
}

func decideShip(o Order, c Ship, now time.Time) ([]Event, error) {
	if err := checkLabel("carrier", c.Carrier); err != nil {
		return nil, err
	}
	if err := checkLabel("tracking", c.Tracking); err != nil {
		return nil, err
	}
	if err := requireStatus(o, c, StatusPaid); err != nil {
		return nil, err
	}
	if o.ReserveStock && o.StockReservation != ReservationReserved {
		return nil, &StateError{Status: o.Status, Command: c.CommandName(), Reason: "its stock is not reserved yet"}
	}
	return []Event{OrderShipped{Carrier: c.Carrier, Tracking: c.Tracking, ShippedAt: now}}, nil
}

func decideCancel(o Order, c Cancel, now time.Time) ([]Event, error) {
	if err := checkReason(c.Reason); err != nil {
		return nil, err
	}
	if err := requireStatus(o, c, StatusPlaced, StatusPaid); err != nil {
		return nil, err
	}
	var refund int64
	if o.Status == StatusPaid {
		refund = o.PaidAmount
	}
	return []Event{OrderCancelled{Reason: c.Reason, RefundedAmount: refund, CancelledAt: now}}, nil
}

func decideRecordReserved(o Order, c RecordStockReserved, now time.Time) ([]Event, error) {
	if err := requireStatus(o, c, StatusPlaced, StatusPaid); err != nil {
		return nil, err
	}
	if o.StockReservation != ReservationPending {
		return nil, &StateError{Status: o.Status, Command: c.CommandName(), Reason: "its stock reservation is " + string(o.StockReservation)}
	}
	return []Event{OrderStockReserved{ReservedAt: now}}, nil
}

func decideReject(o Order, c Reject, now time.Time) ([]Event, error) {
	if err := checkReason(c.Reason); err != nil {
		return nil, err
	}
	if err := requireStatus(o, c, StatusPlaced, StatusPaid); err != nil {
		return nil, err
	}
	var refund int64
	if o.Status == StatusPaid {
		refund = o.PaidAmount
	}
	return []Event{OrderRejected{Reason: c.Reason, Short: slices.Clone(c.Short), RefundedAmount: refund, RejectedAt: now}}, nil
}

func decideExpire(o Order, c ExpirePayment, now time.Time) ([]Event, error) {
	if c.Timeout <= 0 {
		return nil, invalid("timeout", "must be positive")
	}
	if err := requireStatus(o, c, StatusPlaced); err != nil {
		return nil, err
	}
	if o.StockReservation != ReservationReserved {
		return nil, &StateError{Status: o.Status, Command: c.CommandName(), Reason: "its stock reservation is " + string(o.StockReservation)}
	}
	if deadline := o.PaymentDeadline(c.Timeout); now.Before(deadline) {
		return nil, &StateError{Status: o.Status, Command: c.CommandName(), Reason: "its payment is due by " + deadline.Format(time.RFC3339Nano)}
	}
	return []Event{OrderCancelled{Reason: CancelPaymentTimeout, CancelledAt: now}}, nil
}

// PaymentDeadline returns when an order whose stock is reserved and that
// is not paid is cancelled with the given payment timeout; the zero time
// for an order that has no deadline (not reserved, or not placed).
func (o Order) PaymentDeadline(timeout time.Duration) time.Time {
	if o.Status != StatusPlaced || o.StockReservation != ReservationReserved || timeout <= 0 {
		return time.Time{}
	}
	return o.ReservedAt.Add(timeout)
}

// requireStatus returns ErrOrderNotFound if o does not exist, or a
// *StateError if its status is not one of allowed.
func requireStatus(o Order, c Command, allowed ...Status) error {
	if !o.Exists() {
		return ErrOrderNotFound
	}
	if !slices.Contains(allowed, o.Status) {
		return &StateError{Status: o.Status, Command: c.CommandName()}
	}
	return nil
}

func lineIndex(lines []Line, sku string) int {
	return slices.IndexFunc(lines, func(l Line) bool { return l.SKU == sku })
}

// checkedTotal returns the sum of lines and false if it, or a line's
// subtotal, overflows an int64. With the limits on lines only the sum can:
// 100 × MaxQuantity × MaxUnitPrice is 10^19.
func checkedTotal(lines []Line) (int64, bool) {
	var sum int64
	for _, l := range lines {
		if l.Quantity < 0 || l.UnitPrice < 0 || l.Quantity != 0 && l.UnitPrice > math.MaxInt64/l.Quantity {
			return 0, false
		}
		sub := l.Quantity * l.UnitPrice
		if sum > math.MaxInt64-sub {
			return 0, false
		}
		sum += sub
	}
	return sum, true
}
