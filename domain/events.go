package domain

import "time"

// Event is a fact recorded in a stream. The event types of this package are
// OrderPlaced, OrderLineAdded, OrderLineRemoved, OrderPaid, OrderShipped,
// OrderCancelled, OrderStockReserved, OrderRejected, StockReceived,
// StockReserved, StockReservationRefused, StockReleased and StockShipped,
// used as values (not pointers).
type Event interface {
	// EventType returns the type name stored with the event.
	EventType() string
}

// Event type names, as stored with each event.
const (
	TypeOrderPlaced      = "OrderPlaced"
	TypeOrderLineAdded   = "OrderLineAdded"
	TypeOrderLineRemoved = "OrderLineRemoved"
	TypeOrderPaid        = "OrderPaid"
	TypeOrderShipped     = "OrderShipped"
	TypeOrderCancelled   = "OrderCancelled"
	TypeStockReceived    = "StockReceived"

	TypeOrderStockReserved      = "OrderStockReserved"
	TypeOrderRejected           = "OrderRejected"
	TypeStockReserved           = "StockReserved"
	TypeStockReservationRefused = "StockReservationRefused"
	TypeStockReleased           = "StockReleased"
	TypeStockShipped            = "StockShipped"
)

// SchemaVersion is the version of the event payloads this package writes,
// recorded in Metadata.Schema so that older payloads can be upcast later.
const SchemaVersion = 1

// Metadata travels with every stored event, beside its payload.
type Metadata struct {
	// CorrelationID identifies the request or flow the event belongs to.
	CorrelationID string `json:"correlation_id"`
	// CausationID identifies the command or event that caused this one.
	CausationID string `json:"causation_id"`
	// Schema is the payload version; SchemaVersion for new events.
	Schema int `json:"schema"`
}

// OrderPlaced is the first event of an order stream.
type OrderPlaced struct {
	OrderID    string    `json:"order_id"`
	CustomerID string    `json:"customer_id"`
	Currency   string    `json:"currency"`
	Lines      []Line    `json:"lines"`
	PlacedAt   time.Time `json:"placed_at"`
	// ReserveStock is set on orders placed under the reserve stock policy:
	// the fulfilment saga reserves their lines on the SKUs' stock streams.
	// Orders placed under the track policy (and before the policy
	// existed) omit it.
	ReserveStock bool `json:"reserve_stock,omitempty"`
}

// OrderLineAdded records a line added to a placed order. If the order already
// has a line for SKU, Quantity is added to that line (the price is the same).
type OrderLineAdded struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// OrderLineRemoved records that the line for SKU was removed from an order.
type OrderLineRemoved struct {
	SKU string `json:"sku"`
}

// OrderPaid records the payment of an order's total.
type OrderPaid struct {
	Amount     int64     `json:"amount"`
	PaymentRef string    `json:"payment_ref"`
	PaidAt     time.Time `json:"paid_at"`
}

// OrderShipped records that a paid order left the warehouse.
type OrderShipped struct {
	Carrier   string    `json:"carrier"`
	Tracking  string    `json:"tracking"`
	ShippedAt time.Time `json:"shipped_at"`
}

// OrderCancelled records the cancellation of an order. RefundedAmount is the
// amount paid back: the paid amount if the order was paid, else 0.
type OrderCancelled struct {
	Reason         string    `json:"reason"`
	RefundedAmount int64     `json:"refunded_amount"`
	CancelledAt    time.Time `json:"cancelled_at"`
}

// StockReceived records goods received for a SKU, in a stock stream.
type StockReceived struct {
	SKU        string    `json:"sku"`
	Quantity   int64     `json:"quantity"`
	ReceivedAt time.Time `json:"received_at"`
}

// OrderStockReserved records that every line of an order is reserved on its
// SKU's stock stream. Lines added later make the reservation pending again,
// until the next OrderStockReserved.
type OrderStockReserved struct {
	ReservedAt time.Time `json:"reserved_at"`
}

// Shortage is a line of an order that could not be reserved: Requested
// units were asked for and only Available were there.
type Shortage struct {
	SKU       string `json:"sku"`
	Requested int64  `json:"requested"`
	Available int64  `json:"available"`
}

// OrderRejected records that an order's stock could not be reserved: the
// fulfilment saga released what it had reserved and rejected the order.
// RefundedAmount is the amount paid back, if a payment raced the rejection.
type OrderRejected struct {
	Reason         string     `json:"reason"`
	Short          []Shortage `json:"short"`
	RefundedAmount int64      `json:"refunded_amount"`
	RejectedAt     time.Time  `json:"rejected_at"`
}

// StockReserved records Quantity more units of a SKU reserved for an order.
type StockReserved struct {
	SKU        string    `json:"sku"`
	OrderID    string    `json:"order_id"`
	Quantity   int64     `json:"quantity"`
	ReservedAt time.Time `json:"reserved_at"`
}

// StockReservationRefused records that Requested units of a SKU could not
// be reserved for an order because only Available were.
type StockReservationRefused struct {
	SKU       string    `json:"sku"`
	OrderID   string    `json:"order_id"`
	Requested int64     `json:"requested"`
	Available int64     `json:"available"`
	RefusedAt time.Time `json:"refused_at"`
}

// StockReleased records Quantity units of a SKU reserved for an order given
// back. Reason is why: ReleaseLineRemoved (the order is still open) or the
// end of the order (cancelled, rejected, payment_timeout), after which
// nothing more is reserved for it on that SKU.
type StockReleased struct {
	SKU        string    `json:"sku"`
	OrderID    string    `json:"order_id"`
	Quantity   int64     `json:"quantity"`
	Reason     string    `json:"reason"`
	ReleasedAt time.Time `json:"released_at"`
}

// StockShipped records that the Quantity units of a SKU reserved for an
// order left with its shipment.
type StockShipped struct {
	SKU       string    `json:"sku"`
	OrderID   string    `json:"order_id"`
	Quantity  int64     `json:"quantity"`
	ShippedAt time.Time `json:"shipped_at"`
}

// EventType returns TypeOrderPlaced.
func (OrderPlaced) EventType() string { return TypeOrderPlaced }

// EventType returns TypeOrderLineAdded.
func (OrderLineAdded) EventType() string { return TypeOrderLineAdded }

// EventType returns TypeOrderLineRemoved.
func (OrderLineRemoved) EventType() string { return TypeOrderLineRemoved }

// EventType returns TypeOrderPaid.
func (OrderPaid) EventType() string { return TypeOrderPaid }

// EventType returns TypeOrderShipped.
func (OrderShipped) EventType() string { return TypeOrderShipped }

// EventType returns TypeOrderCancelled.
func (OrderCancelled) EventType() string { return TypeOrderCancelled }

// EventType returns TypeStockReceived.
func (StockReceived) EventType() string { return TypeStockReceived }

// EventType returns TypeOrderStockReserved.
func (OrderStockReserved) EventType() string { return TypeOrderStockReserved }

// EventType returns TypeOrderRejected.
func (OrderRejected) EventType() string { return TypeOrderRejected }

// EventType returns TypeStockReserved.
func (StockReserved) EventType() string { return TypeStockReserved }

// EventType returns TypeStockReservationRefused.
func (StockReservationRefused) EventType() string { return TypeStockReservationRefused }

// EventType returns TypeStockReleased.
func (StockReleased) EventType() string { return TypeStockReleased }

// EventType returns TypeStockShipped.
func (StockShipped) EventType() string { return TypeStockShipped }
