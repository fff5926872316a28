package domain

import "time"

// Command is a request to change an order, given to Decide. The JSON tags
// of the commands match the API's request fields.
type Command interface {
	// CommandName returns a short snake_case name, e.g. "pay".
	CommandName() string
}

const (
	cmdPlaceOrder   = "place_order"
	cmdAddLine      = "add_line"
	cmdRemoveLine   = "remove_line"
	cmdPay          = "pay"
	cmdShip         = "ship"
	cmdCancel       = "cancel"
	cmdReceiveStock = "receive_stock"

	cmdRecordStockReserved = "record_stock_reserved"
	cmdReject              = "reject"
	cmdExpirePayment       = "expire_payment"
	cmdReserveStock        = "reserve_stock"
	cmdReleaseStock        = "release_stock"
	cmdShipStock           = "ship_stock"
)

// PlaceOrder creates an order with at least one line. ID is required: the
// caller generates one if the client gave none.
type PlaceOrder struct {
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	Currency   string `json:"currency"`
	Lines      []Line `json:"lines"`
	// ReserveStock places the order under the reserve stock policy (set
	// by the service from its configuration, never by a client).
	ReserveStock bool `json:"-"`
}

// AddLine adds a line to a placed order, or adds to the quantity of the line
// for the same SKU if it has the same unit price.
type AddLine struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// RemoveLine removes the line for SKU from a placed order.
type RemoveLine struct {
	SKU string `json:"sku"`
}

// Pay pays a placed order. Amount must equal the order's total.
type Pay struct {
	Amount     int64  `json:"amount"`
	PaymentRef string `json:"payment_ref"`
}

// Ship ships a paid order.
type Ship struct {
	Carrier  string `json:"carrier"`
	Tracking string `json:"tracking"`
}

// Cancel cancels a placed or paid order; a paid order is refunded in full.
type Cancel struct {
	Reason string `json:"reason"`
}

// RecordStockReserved records that every line of a placed or paid order is
// reserved (issued by the fulfilment saga).
type RecordStockReserved struct{}

// Reject rejects a placed or paid order whose stock could not be reserved,
// refunding a payment (issued by the fulfilment saga).
type Reject struct {
	Reason string
	Short  []Shortage
}

// ExpirePayment cancels a placed order whose stock has been reserved for
// Timeout or longer without a payment (issued by the fulfilment saga).
type ExpirePayment struct {
	Timeout time.Duration
}

// CommandName returns "record_stock_reserved".
func (RecordStockReserved) CommandName() string { return cmdRecordStockReserved }

// CommandName returns "reject".
func (Reject) CommandName() string { return cmdReject }

// CommandName returns "expire_payment".
func (ExpirePayment) CommandName() string { return cmdExpirePayment }

// CommandName returns "place_order".
func (PlaceOrder) CommandName() string { return cmdPlaceOrder }

// CommandName returns "add_line".
func (AddLine) CommandName() string { return cmdAddLine }

// CommandName returns "remove_line".
func (RemoveLine) CommandName() string { return cmdRemoveLine }

// CommandName returns "pay".
func (Pay) CommandName() string { return cmdPay }

// CommandName returns "ship".
func (Ship) CommandName() string { return cmdShip }

// CommandName returns "cancel".
func (Cancel) CommandName() string { return cmdCancel }
