package domain

import "github.com/orderstore/orderstore/internal/plainjson"

// Every command appends events, and encoding/json's reflective encoder
// was a large part of a command's cost. The event types below write their
// payload directly when every value is in the plain shape of fastdecode.go
// (ASCII strings that need no escape in encoding/json's output, times in
// UTC or whole-minute offsets within years 0–9999), and else leave it to
// encoding/json. Whenever a direct encoder succeeds, its bytes are
// encoding/json's: TestEncode_Direct and FuzzEncodeDirect check exactly
// that. An event type without one takes encoding/json.

// directEncoder is implemented by event types that can write their own
// payload: appendJSON appends it to b, or reports false for a value
// outside the plain shape.
type directEncoder interface {
	appendJSON(b []byte) ([]byte, bool)
}

// writeLines appends lines as encoding/json does.
func writeLines(w *plainjson.Writer, lines []Line) {
	if lines == nil {
		w.Raw("null")
		return
	}
	w.Raw("[")
	for i, l := range lines {
		if i > 0 {
			w.Raw(",")
		}
		l.write(w)
	}
	w.Raw("]")
}

func (l Line) write(w *plainjson.Writer) {
	w.Key("sku", true)
	w.Str(l.SKU)
	w.Key("quantity", false)
	w.Int(l.Quantity)
	w.Key("unit_price", false)
	w.Int(l.UnitPrice)
	w.Raw("}")
}

func (e OrderPlaced) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	w.Key("order_id", true)
	w.Str(e.OrderID)
	w.Key("customer_id", false)
	w.Str(e.CustomerID)
	w.Key("currency", false)
	w.Str(e.Currency)
	w.Key("lines", false)
	writeLines(&w, e.Lines)
	w.Key("placed_at", false)
	w.Time(e.PlacedAt)
	if e.ReserveStock { // omitempty
		w.Key("reserve_stock", false)
		w.Raw("true")
	}
	return w.End()
}

func (e OrderLineAdded) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	Line(e).write(&w)
	return w.Bytes()
}

func (e OrderLineRemoved) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	w.Key("sku", true)
	w.Str(e.SKU)
	return w.End()
}

func (e OrderPaid) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	w.Key("amount", true)
	w.Int(e.Amount)
	w.Key("payment_ref", false)
	w.Str(e.PaymentRef)
	w.Key("paid_at", false)
	w.Time(e.PaidAt)
	return w.End()
}

func (e OrderShipped) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	w.Key("carrier", true)
	w.Str(e.Carrier)
	w.Key("tracking", false)
	w.Str(e.Tracking)
	w.Key("shipped_at", false)
	w.Time(e.ShippedAt)
	return w.End()
}

func (e OrderCancelled) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	w.Key("reason", true)
	w.Str(e.Reason)
	w.Key("refunded_amount", false)
	w.Int(e.RefundedAmount)
	w.Key("cancelled_at", false)
	w.Time(e.CancelledAt)
	return w.End()
}

func (e StockReceived) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	w.Key("sku", true)
	w.Str(e.SKU)
	w.Key("quantity", false)
	w.Int(e.Quantity)
	w.Key("received_at", false)
	w.Time(e.ReceivedAt)
	return w.End()
}

func (e OrderStockReserved) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	w.Key("reserved_at", true)
	w.Time(e.ReservedAt)
	return w.End()
}

func (e OrderRejected) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	w.Key("reason", true)
	w.Str(e.Reason)
	w.Key("short", false)
	if e.Short == nil {
		w.Raw("null")
	} else {
		w.Raw("[")
		for i, sh := range e.Short {
			if i > 0 {
				w.Raw(",")
			}
			w.Key("sku", true)
			w.Str(sh.SKU)
			w.Key("requested", false)
			w.Int(sh.Requested)
			w.Key("available", false)
			w.Int(sh.Available)
			w.Raw("}")
		}
		w.Raw("]")
	}
	w.Key("refunded_amount", false)
	w.Int(e.RefundedAmount)
	w.Key("rejected_at", false)
	w.Time(e.RejectedAt)
	return w.End()
}

// writeStockHead writes the members every stock reservation event begins
// with.
func writeStockHead(w *plainjson.Writer, sku, orderID string) {
	w.Key("sku", true)
	w.Str(sku)
	w.Key("order_id", false)
	w.Str(orderID)
}

func (e StockReserved) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	writeStockHead(&w, e.SKU, e.OrderID)
	w.Key("quantity", false)
	w.Int(e.Quantity)
	w.Key("reserved_at", false)
	w.Time(e.ReservedAt)
	return w.End()
}

func (e StockReservationRefused) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	writeStockHead(&w, e.SKU, e.OrderID)
	w.Key("requested", false)
	w.Int(e.Requested)
	w.Key("available", false)
	w.Int(e.Available)
	w.Key("refused_at", false)
	w.Time(e.RefusedAt)
	return w.End()
}

func (e StockReleased) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	writeStockHead(&w, e.SKU, e.OrderID)
	w.Key("quantity", false)
	w.Int(e.Quantity)
	w.Key("reason", false)
	w.Str(e.Reason)
	w.Key("released_at", false)
	w.Time(e.ReleasedAt)
	return w.End()
}

func (e StockShipped) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	writeStockHead(&w, e.SKU, e.OrderID)
	w.Key("quantity", false)
	w.Int(e.Quantity)
	w.Key("shipped_at", false)
	w.Time(e.ShippedAt)
	return w.End()
}

// WriteJSON writes m's members as the first of an object, as encoding/json
// writes them for m or for a struct that embeds m first.
func (m Metadata) WriteJSON(w *plainjson.Writer) {
	w.Key("correlation_id", true)
	w.Str(m.CorrelationID)
	w.Key("causation_id", false)
	w.Str(m.CausationID)
	w.Key("schema", false)
	w.Int(int64(m.Schema))
}
