package domain

// Stream name prefixes. A stream name is a prefix followed by an order ID or
// a SKU.
const (
	OrderStreamPrefix = "order-"
	StockStreamPrefix = "stock-"
)

// OrderStream returns the name of the stream holding order id's events.
func OrderStream(id string) string { return OrderStreamPrefix + id }

// StockStream returns the name of the stream holding the stock events of sku.
func StockStream(sku string) string { return StockStreamPrefix + sku }
