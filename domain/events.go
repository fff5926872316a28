package domain

import "time"

// Event is a fact recorded in a stream. The event types of this package are
// OrderPlaced, OrderLineAdded, OrderLineRemoved, OrderPaid, OrderShipped,
// OrderCancelled and StockReceived, used as values (not pointers).
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
