package domain

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// The payloads this package writes have one plain shape: an object of known
// fields, ASCII strings without escapes, integers, RFC 3339 times. Replaying
// history decodes millions of them, and encoding/json, which validates the
// whole input before a reflective second pass, is most of that cost. So
// Decode first tries a direct decoder for that shape only, which gives up
// on anything else (an unknown or repeated field, a null other than for
// lines, an escape, a non-ASCII byte, a number that is not an int64,
// malformed JSON), and encoding/json then decides. Whenever the direct
// decoder succeeds, its result is the one encoding/json gives:
// FuzzFastDecode checks exactly that. A payload of a newer schema, with a
// field this package does not know, takes the slow path: when one is
// written, teach the direct decoder its fields.

// fieldDecoder is implemented by pointers to the event types: decodeField
// decodes the value of the member named key from s, and reports false if
// key is not one of the type's fields.
type fieldDecoder interface {
	decodeField(s *scanner, key []byte) bool
}

// decodeFast decodes data into e, which must be zero, and reports whether
// it could (see above). On false, e holds partial results.
func decodeFast(e fieldDecoder, data []byte) bool {
	s := scanner{b: data, ok: true}
	s.object(e.decodeField)
	s.space()
	return s.ok && s.i == len(s.b)
}

// scanner reads the plain shape of JSON; ok turns false, for good, at the
// first byte outside it. Its methods return zero values once ok is false.
type scanner struct {
	b  []byte
	i  int
	ok bool
}

func (s *scanner) fail() { s.ok, s.i = false, len(s.b) }

// space skips JSON whitespace.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips whitespace and reports whether c follows, consuming it.
func (s *scanner) consume(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// expect consumes c, or fails.
func (s *scanner) expect(c byte) {
	if !s.consume(c) {
		s.fail()
	}
}

// rawString returns a string token, quotes included, if its content is
// ASCII without control characters or escapes.
func (s *scanner) rawString() []byte {
	s.expect('"')
	start := s.i - 1
	for s.i < len(s.b) {
		c := s.b[s.i]
		s.i++
		switch {
		case c == '"':
			return s.b[start:s.i]
		case c < 0x20 || c == '\\' || c >= 0x80:
			s.fail()
			return nil
		}
	}
	s.fail()
	return nil
}

// str returns a plain string value.
func (s *scanner) str() string {
	raw := s.rawString()
	if len(raw) < 2 {
		return ""
	}
	return string(raw[1 : len(raw)-1])
}

// int returns an integer in JSON's syntax (no fraction or exponent) that
// fits an int64.
func (s *scanner) int() int64 {
	s.space()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	// JSON allows no leading zero, and a fraction or exponent would not be
	// an int64 for encoding/json either: leave both to it.
	if n := s.i - digits; n == 0 || n > 1 && s.b[digits] == '0' ||
		s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.fail()
		return 0
	}
	// Accumulate the magnitude negatively: -2⁶³ has no positive int64.
	var v int64
	for _, c := range s.b[digits:s.i] {
		d := int64(c - '0')
		if v < (math.MinInt64+d)/10 {
			s.fail() // out of range
			return 0
		}
		v = v*10 - d
	}
	if start == digits {
		if v == math.MinInt64 {
			s.fail()
			return 0
		}
		v = -v
	}
	return v
}

// time returns a time the way encoding/json decodes one: the string token,
// quotes included, handed to time.Time.UnmarshalJSON.
func (s *scanner) time() time.Time {
	var t time.Time
	if raw := s.rawString(); !s.ok || t.UnmarshalJSON(raw) != nil {
		s.fail()
	}
	return t
}

// object reads an object whose members field decodes, failing on a member
// it does not know or one seen before (encoding/json merges a repeated
// member into the earlier value in ways not worth copying).
func (s *scanner) object(field func(s *scanner, key []byte) bool) {
	s.expect('{')
	if s.consume('}') {
		return
	}
	var seen [16][]byte
	for n := 0; s.ok; n++ {
		raw := s.rawString()
		if !s.ok || n == len(seen) {
			s.fail()
			return
		}
		key := raw[1 : len(raw)-1]
		for _, k := range seen[:n] {
			if string(k) == string(key) {
				s.fail()
				return
			}
		}
		seen[n] = key
		s.expect(':')
		if !s.ok || !field(s, key) {
			s.fail()
			return
		}
		if s.consume('}') {
			return
		}
		s.expect(',')
	}
}

// null consumes a null literal if one follows.
func (s *scanner) null() bool {
	s.space()
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// bool returns a true or false literal.
func (s *scanner) bool() bool {
	s.space()
	switch {
	case len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true":
		s.i += 4
		return true
	case len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false":
		s.i += 5
		return false
	}
	s.fail()
	return false
}

// lines reads an array of line objects, or null (Encode writes nil lines
// so): encoding/json sets a slice to nil for a null, and an empty array
// gives an empty, non-nil slice.
func (s *scanner) lines() []Line {
	if s.null() {
		return nil
	}
	s.expect('[')
	lines := make([]Line, 0, 4)
	if s.consume(']') {
		return lines
	}
	for s.ok {
		var l Line
		s.object(l.decodeField)
		lines = append(lines, l)
		if s.consume(']') {
			return lines
		}
		s.expect(',')
	}
	return nil
}

func (l *Line) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "sku":
		l.SKU = s.str()
	case "quantity":
		l.Quantity = s.int()
	case "unit_price":
		l.UnitPrice = s.int()
	default:
		return false
	}
	return true
}

func (e *OrderPlaced) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "order_id":
		e.OrderID = s.str()
	case "customer_id":
		e.CustomerID = s.str()
	case "currency":
		e.Currency = s.str()
	case "lines":
		e.Lines = s.lines()
	case "placed_at":
		e.PlacedAt = s.time()
	case "reserve_stock":
		e.ReserveStock = s.bool()
	default:
		return false
	}
	return true
}

func (e *OrderLineAdded) decodeField(s *scanner, key []byte) bool {
	return (*Line)(e).decodeField(s, key)
}

func (e *OrderLineRemoved) decodeField(s *scanner, key []byte) bool {
	if string(key) != "sku" {
		return false
	}
	e.SKU = s.str()
	return true
}

func (e *OrderPaid) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "amount":
		e.Amount = s.int()
	case "payment_ref":
		e.PaymentRef = s.str()
	case "paid_at":
		e.PaidAt = s.time()
	default:
		return false
	}
	return true
}

func (e *OrderShipped) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "carrier":
		e.Carrier = s.str()
	case "tracking":
		e.Tracking = s.str()
	case "shipped_at":
		e.ShippedAt = s.time()
	default:
		return false
	}
	return true
}

func (e *OrderCancelled) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "reason":
		e.Reason = s.str()
	case "refunded_amount":
		e.RefundedAmount = s.int()
	case "cancelled_at":
		e.CancelledAt = s.time()
	default:
		return false
	}
	return true
}

func (e *StockReceived) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "sku":
		e.SKU = s.str()
	case "quantity":
		e.Quantity = s.int()
	case "received_at":
		e.ReceivedAt = s.time()
	default:
		return false
	}
	return true
}

// shortages reads an array of shortage objects, or null, as lines does.
func (s *scanner) shortages() []Shortage {
	if s.null() {
		return nil
	}
	s.expect('[')
	short := make([]Shortage, 0, 2)
	if s.consume(']') {
		return short
	}
	for s.ok {
		var sh Shortage
		s.object(sh.decodeField)
		short = append(short, sh)
		if s.consume(']') {
			return short
		}
		s.expect(',')
	}
	return nil
}

func (sh *Shortage) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "sku":
		sh.SKU = s.str()
	case "requested":
		sh.Requested = s.int()
	case "available":
		sh.Available = s.int()
	default:
		return false
	}
	return true
}

func (e *OrderStockReserved) decodeField(s *scanner, key []byte) bool {
	if string(key) != "reserved_at" {
		return false
	}
	e.ReservedAt = s.time()
	return true
}

func (e *OrderRejected) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "reason":
		e.Reason = s.str()
	case "short":
		e.Short = s.shortages()
	case "refunded_amount":
		e.RefundedAmount = s.int()
	case "rejected_at":
		e.RejectedAt = s.time()
	default:
		return false
	}
	return true
}

func (e *StockReserved) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "sku":
		e.SKU = s.str()
	case "order_id":
		e.OrderID = s.str()
	case "quantity":
		e.Quantity = s.int()
	case "reserved_at":
		e.ReservedAt = s.time()
	default:
		return false
	}
	return true
}

func (e *StockReservationRefused) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "sku":
		e.SKU = s.str()
	case "order_id":
		e.OrderID = s.str()
	case "requested":
		e.Requested = s.int()
	case "available":
		e.Available = s.int()
	case "refused_at":
		e.RefusedAt = s.time()
	default:
		return false
	}
	return true
}

func (e *StockReleased) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "sku":
		e.SKU = s.str()
	case "order_id":
		e.OrderID = s.str()
	case "quantity":
		e.Quantity = s.int()
	case "reason":
		e.Reason = s.str()
	case "released_at":
		e.ReleasedAt = s.time()
	default:
		return false
	}
	return true
}

func (e *StockShipped) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "sku":
		e.SKU = s.str()
	case "order_id":
		e.OrderID = s.str()
	case "quantity":
		e.Quantity = s.int()
	case "shipped_at":
		e.ShippedAt = s.time()
	default:
		return false
	}
	return true
}

// DecodeMetadata decodes the Metadata members of an event's metadata, as
// encoding/json.Unmarshal into a Metadata does; members of other names
// (what the writer added: an idempotency key, an actor) are skipped. The
// direct decoder takes the plain shape with plain values of other members
// (strings, integers, booleans, null), and leaves the rest to
// encoding/json, including a member whose name matches a Metadata field
// but for case, which encoding/json would take for it.
func DecodeMetadata(data []byte) (Metadata, error) {
	var m Metadata
	s := scanner{b: data, ok: true}
	s.object(m.decodeField)
	s.space()
	if s.ok && s.i == len(s.b) {
		return m, nil
	}
	m = Metadata{}
	if err := json.Unmarshal(data, &m); err != nil {
		return Metadata{}, fmt.Errorf("decode metadata: %w: %w", ErrMalformedEvent, err)
	}
	return m, nil
}

func (m *Metadata) decodeField(s *scanner, key []byte) bool {
	switch string(key) {
	case "correlation_id":
		m.CorrelationID = s.str()
	case "causation_id":
		m.CausationID = s.str()
	case "schema":
		v := s.int()
		if int64(int(v)) != v {
			return false
		}
		m.Schema = int(v)
	default:
		for _, name := range [...]string{"correlation_id", "causation_id", "schema"} {
			if strings.EqualFold(string(key), name) {
				return false
			}
		}
		s.plainValue()
	}
	return true
}

// plainValue skips a string, an integer, a boolean or null.
func (s *scanner) plainValue() {
	s.space()
	if s.i >= len(s.b) {
		s.fail()
		return
	}
	switch c := s.b[s.i]; {
	case c == '"':
		s.rawString()
	case c == '-' || c >= '0' && c <= '9':
		s.int()
	case c == 'n':
		if !s.null() {
			s.fail()
		}
	default:
		s.bool()
	}
}
