package domain

import "time"

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
