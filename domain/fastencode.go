package domain

import (
	"strconv"
	"time"
)

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

// payloadWriter appends a JSON object; ok turns false at the first value
// it leaves to encoding/json.
type payloadWriter struct {
	b  []byte
	ok bool
}

// key appends the name of the next member, with the opening brace before
// the first.
func (w *payloadWriter) key(name string, first bool) {
	if first {
		w.b = append(w.b, '{', '"')
	} else {
		w.b = append(w.b, ',', '"')
	}
	w.b = append(w.b, name...)
	w.b = append(w.b, '"', ':')
}

func (w *payloadWriter) str(s string) {
	for i := range len(s) {
		// encoding/json escapes control characters, quotes and
		// backslashes, and <, > and & for HTML; non-ASCII goes there too.
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			w.ok = false
			return
		}
	}
	w.b = append(w.b, '"')
	w.b = append(w.b, s...)
	w.b = append(w.b, '"')
}

func (w *payloadWriter) int(v int64) { w.b = strconv.AppendInt(w.b, v, 10) }

func (w *payloadWriter) time(t time.Time) {
	// time.Time.MarshalJSON refuses other years and offsets with seconds.
	if _, offset := t.Zone(); t.Year() < 0 || t.Year() > 9999 || offset%60 != 0 {
		w.ok = false
		return
	}
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, time.RFC3339Nano)
	w.b = append(w.b, '"')
}

func (w *payloadWriter) lines(lines []Line) {
	if lines == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.b = append(w.b, '[')
	for i, l := range lines {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		l.write(w)
	}
	w.b = append(w.b, ']')
}

func (w *payloadWriter) end() ([]byte, bool) {
	w.b = append(w.b, '}')
	return w.b, w.ok
}

func (l Line) write(w *payloadWriter) {
	w.key("sku", true)
	w.str(l.SKU)
	w.key("quantity", false)
	w.int(l.Quantity)
	w.key("unit_price", false)
	w.int(l.UnitPrice)
	w.b = append(w.b, '}')
}

func (e OrderPlaced) appendJSON(b []byte) ([]byte, bool) {
	w := payloadWriter{b: b, ok: true}
	w.key("order_id", true)
	w.str(e.OrderID)
	w.key("customer_id", false)
	w.str(e.CustomerID)
	w.key("currency", false)
	w.str(e.Currency)
	w.key("lines", false)
	w.lines(e.Lines)
	w.key("placed_at", false)
	w.time(e.PlacedAt)
	if e.ReserveStock { // omitempty
		w.key("reserve_stock", false)
		w.b = append(w.b, "true"...)
	}
	return w.end()
}

func (e OrderLineAdded) appendJSON(b []byte) ([]byte, bool) {
	w := payloadWriter{b: b, ok: true}
	Line(e).write(&w)
	return w.b, w.ok
}

func (e OrderLineRemoved) appendJSON(b []byte) ([]byte, bool) {
	w := payloadWriter{b: b, ok: true}
	w.key("sku", true)
	w.str(e.SKU)
	return w.end()
}

func (e OrderPaid) appendJSON(b []byte) ([]byte, bool) {
	w := payloadWriter{b: b, ok: true}
	w.key("amount", true)
	w.int(e.Amount)
	w.key("payment_ref", false)
	w.str(e.PaymentRef)
	w.key("paid_at", false)
	w.time(e.PaidAt)
	return w.end()
}

func (e OrderShipped) appendJSON(b []byte) ([]byte, bool) {
	w := payloadWriter{b: b, ok: true}
	w.key("carrier", true)
	w.str(e.Carrier)
	w.key("tracking", false)
	w.str(e.Tracking)
	w.key("shipped_at", false)
	w.time(e.ShippedAt)
	return w.end()
}

func (e OrderCancelled) appendJSON(b []byte) ([]byte, bool) {
	w := payloadWriter{b: b, ok: true}
	w.key("reason", true)
	w.str(e.Reason)
	w.key("refunded_amount", false)
	w.int(e.RefundedAmount)
	w.key("cancelled_at", false)
	w.time(e.CancelledAt)
	return w.end()
}

func (e StockReceived) appendJSON(b []byte) ([]byte, bool) {
	w := payloadWriter{b: b, ok: true}
	w.key("sku", true)
	w.str(e.SKU)
	w.key("quantity", false)
	w.int(e.Quantity)
	w.key("received_at", false)
	w.time(e.ReceivedAt)
	return w.end()
}
