package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// newTarget returns a pointer to a zero event of type eventType.
func newTarget(t testing.TB, eventType string) fieldDecoder {
	switch eventType {
	case TypeOrderPlaced:
		return new(OrderPlaced)
	case TypeOrderLineAdded:
		return new(OrderLineAdded)
	case TypeOrderLineRemoved:
		return new(OrderLineRemoved)
	case TypeOrderPaid:
		return new(OrderPaid)
	case TypeOrderShipped:
		return new(OrderShipped)
	case TypeOrderCancelled:
		return new(OrderCancelled)
	case TypeStockReceived:
		return new(StockReceived)
	case TypeOrderStockReserved:
		return new(OrderStockReserved)
	case TypeOrderRejected:
		return new(OrderRejected)
	case TypeStockReserved:
		return new(StockReserved)
	case TypeStockReservationRefused:
		return new(StockReservationRefused)
	case TypeStockReleased:
		return new(StockReleased)
	case TypeStockShipped:
		return new(StockShipped)
	}
	t.Fatalf("no event type %q", eventType)
	return nil
}

// checkFast fails t if decodeFast accepts data and encoding/json does not
// decode it to the same value. It reports whether decodeFast accepted.
func checkFast(t testing.TB, eventType string, data []byte) bool {
	t.Helper()
	fast := newTarget(t, eventType)
	if !decodeFast(fast, data) {
		return false
	}
	slow := newTarget(t, eventType)
	if err := json.Unmarshal(data, slow); err != nil {
		t.Fatalf("decodeFast accepted %s %q, which encoding/json refuses: %v", eventType, data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s %q:\ndecodeFast   %#v\nencoding/json %#v", eventType, data, fast, slow)
	}
	return true
}

// randomEvent returns an event of each type in turn with random contents,
// including the extremes of its integers and times.
func randomEvent(r *rand.Rand, i int) Event {
	str := func() string {
		const chars = "abcXYZ019-_ .:/~'"
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = chars[r.IntN(len(chars))]
		}
		return string(b)
	}
	num := func() int64 {
		switch r.IntN(4) {
		case 0:
			return -1 << 63
		case 1:
			return 1<<63 - 1
		}
		return r.Int64N(2_000_000) - 1_000_000
	}
	at := func() time.Time {
		zone := time.FixedZone("", (r.IntN(48)-24)*1800)
		return time.Unix(r.Int64N(1<<35), r.Int64N(1e9)*int64(r.IntN(2))).In(zone)
	}
	lines := func() []Line {
		if r.IntN(5) == 0 {
			return nil
		}
		ls := make([]Line, r.IntN(4))
		for i := range ls {
			ls[i] = Line{SKU: str(), Quantity: num(), UnitPrice: num()}
		}
		return ls
	}
	short := func() []Shortage {
		if r.IntN(5) == 0 {
			return nil
		}
		sh := make([]Shortage, r.IntN(3))
		for i := range sh {
			sh[i] = Shortage{SKU: str(), Requested: num(), Available: num()}
		}
		return sh
	}
	switch i % len(eventTypes) {
	case 0:
		return OrderPlaced{OrderID: str(), CustomerID: str(), Currency: str(), Lines: lines(), PlacedAt: at(), ReserveStock: r.IntN(2) == 0}
	case 1:
		return OrderLineAdded{SKU: str(), Quantity: num(), UnitPrice: num()}
	case 2:
		return OrderLineRemoved{SKU: str()}
	case 3:
		return OrderPaid{Amount: num(), PaymentRef: str(), PaidAt: at()}
	case 4:
		return OrderShipped{Carrier: str(), Tracking: str(), ShippedAt: at()}
	case 5:
		return OrderCancelled{Reason: str(), RefundedAmount: num(), CancelledAt: at()}
	case 6:
		return StockReceived{SKU: str(), Quantity: num(), ReceivedAt: at()}
	case 7:
		return OrderStockReserved{ReservedAt: at()}
	case 8:
		return OrderRejected{Reason: str(), Short: short(), RefundedAmount: num(), RejectedAt: at()}
	case 9:
		return StockReserved{SKU: str(), OrderID: str(), Quantity: num(), ReservedAt: at()}
	case 10:
		return StockReservationRefused{SKU: str(), OrderID: str(), Requested: num(), Available: num(), RefusedAt: at()}
	case 11:
		return StockReleased{SKU: str(), OrderID: str(), Quantity: num(), Reason: str(), ReleasedAt: at()}
	}
	return StockShipped{SKU: str(), OrderID: str(), Quantity: num(), ShippedAt: at()}
}

// eventTypes lists every event type, in randomEvent's order.
var eventTypes = []string{TypeOrderPlaced, TypeOrderLineAdded, TypeOrderLineRemoved, TypeOrderPaid,
	TypeOrderShipped, TypeOrderCancelled, TypeStockReceived, TypeOrderStockReserved, TypeOrderRejected,
	TypeStockReserved, TypeStockReservationRefused, TypeStockReleased, TypeStockShipped}

// The direct decoder must take every payload Encode writes, or replays
// silently fall back to the slow path, and must agree with encoding/json.
func TestDecodeFast_TakesEncodedPayloads(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	events := sampleEvents()
	for i := range 5000 {
		events = append(events, randomEvent(r, i))
	}
	for _, e := range events {
		typ, data, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if !checkFast(t, typ, data) {
			t.Fatalf("decodeFast gave up on the encoded %s %s", typ, data)
		}
		// Whitespace anywhere JSON allows it is still the plain shape.
		var spaced bytes.Buffer
		if err := json.Indent(&spaced, data, " \r", "\t"); err != nil {
			t.Fatal(err)
		}
		if !checkFast(t, typ, spaced.Bytes()) {
			t.Fatalf("decodeFast gave up on %s %q", typ, spaced.Bytes())
		}
	}
}

// Outside the plain shape the direct decoder gives up, and Decode's answer
// is encoding/json's: these would differ otherwise.
func TestDecodeFast_LeavesTheRestToEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ typ, data string }{
		{TypeOrderPaid, `{"AMOUNT":5}`},                                                 // field names match case-insensitively
		{TypeOrderPaid, `{"amount":5,"amount":6}`},                                      // repeated member
		{TypeOrderPlaced, `{"lines":[{"sku":"a","quantity":2}],"lines":[{"sku":"b"}]}`}, // merged into the old line
		{TypeOrderPaid, `{"amount":null}`},                                              // null
		{TypeOrderPlaced, `{"lines":[null]}`},                                           // a null line is a zero line
		{TypeOrderPaid, `{"payment_ref":"caf\u00e9"}`},                                  // escape
		{TypeOrderPaid, "{\"payment_ref\":\"caf\xc3\xa9\"}"},                            // non-ASCII
		{TypeOrderPaid, "{\"payment_ref\":\"\xff\"}"},                                   // invalid UTF-8 becomes U+FFFD
		{TypeOrderPaid, `{"amount":1.0}`},                                               // fraction
		{TypeOrderPaid, `{"amount":1e3}`},                                               // exponent
		{TypeOrderPaid, `{"amount":01}`},                                                // leading zero
		{TypeOrderPaid, `{"amount":-}`},                                                 // no digits
		{TypeOrderPaid, `{"amount":9223372036854775808}`},                               // overflow
		{TypeOrderPaid, `{"amount":"5"}`},                                               // wrong type
		{TypeOrderPaid, `{"paid_at":"2025-13-01T00:00:00Z"}`},                           // bad time
		{TypeOrderPaid, `{"paid_at":null}`},                                             // null time
		{TypeOrderPaid, `{"tip":{"a":[1,2,{}]}}`},                                       // unknown member
		{TypeOrderPaid, `{"amount":5,}`},                                                // trailing comma
		{TypeOrderPaid, `{"amount":5} x`},                                               // trailing data
		{TypeOrderPaid, `{"amount":5`},                                                  // truncated
		{TypeOrderPaid, `{"payment_ref":"a`},                                            // unterminated string
		{TypeOrderPaid, "{\"payment_ref\":\"a\tb\"}"},                                   // control character
		{TypeOrderPlaced, `{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9}`},
	} {
		if checkFast(t, tc.typ, []byte(tc.data)) {
			t.Errorf("decodeFast took %s %s", tc.typ, tc.data)
		}
		// Decode agrees with encoding/json, error or value.
		got, err := Decode(tc.typ, []byte(tc.data))
		want := newTarget(t, tc.typ)
		wantErr := json.Unmarshal([]byte(tc.data), want)
		if (err != nil) != (wantErr != nil) {
			t.Errorf("Decode(%s) error %v; encoding/json %v", tc.data, err, wantErr)
		} else if err == nil && !reflect.DeepEqual(got, reflect.ValueOf(want).Elem().Interface()) {
			t.Errorf("Decode(%s) = %#v; encoding/json %#v", tc.data, got, want)
		}
	}
}

// FuzzFastDecode is a differential test: whatever the direct decoder
// accepts, encoding/json decodes to the same event.
func FuzzFastDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2 * len(eventTypes) {
		_, data, err := Encode(randomEvent(r, i))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(i%len(eventTypes), data)
	}
	f.Add(0, []byte(`{"lines":[],"currency":""}`))
	f.Add(3, []byte(`{"amount":-0,"paid_at":"2025-03-01T10:30:00.5+01:00"}`))
	f.Fuzz(func(t *testing.T, i int, data []byte) {
		typ := eventTypes[uint(i)%uint(len(eventTypes))]
		checkFast(t, typ, data)
	})
}

func BenchmarkDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	type payload struct {
		typ  string
		data []byte
	}
	var payloads []payload
	for i := range 700 {
		typ, data, err := Encode(randomEvent(r, i))
		if err != nil {
			b.Fatal(err)
		}
		payloads = append(payloads, payload{typ, data})
	}
	for _, name := range []string{"Decode", "encoding-json"} {
		b.Run(name, func(b *testing.B) {
			var size int64
			for i := 0; b.Loop(); i++ {
				p := payloads[i%len(payloads)]
				size += int64(len(p.data))
				var err error
				if name == "Decode" {
					_, err = Decode(p.typ, p.data)
				} else {
					err = json.Unmarshal(p.data, newTarget(b, p.typ))
				}
				if err != nil {
					b.Fatal(fmt.Errorf("%s %s: %w", p.typ, p.data, err))
				}
			}
			b.SetBytes(size / int64(b.N))
		})
	}
}

// checkMetadata fails if DecodeMetadata and encoding/json disagree on data.
func checkMetadata(t *testing.T, data []byte) {
	t.Helper()
	got, err := DecodeMetadata(data)
	var want Metadata
	wantErr := json.Unmarshal(data, &want)
	if (err != nil) != (wantErr != nil) || err == nil && got != want {
		t.Fatalf("DecodeMetadata(%s) = %+v, %v; encoding/json %+v, %v", data, got, err, want, wantErr)
	}
}

func TestDecodeMetadata(t *testing.T) {
	for _, data := range []string{
		`{"correlation_id":"c-1","causation_id":"e-1","schema":1}`,
		`{"correlation_id":"c-1","causation_id":"e-1","schema":1,"actor":"fulfilment"}`,
		`{"correlation_id":"c","causation_id":"","schema":1,"idempotency_key":"k","request_fingerprint":"f","command_events":2,"request_id":"r","actor":"api:alice"}`,
		`{}`, ` { "schema" : -3 } `, `{"x":null,"y":true,"z":false,"correlation_id":"a"}`,
		// Left to encoding/json, which decides.
		`{"Correlation_ID":"upper","correlation_id":"lower"}`, `{"correlation_id":"lower","CORRELATION_ID":"upper"}`,
		`{"correlation_id":"a","correlation_id":"b"}`, `{"correlation_id":"caf\u00e9"}`, `{"correlation_id":null}`,
		`{"nested":{"correlation_id":"x"}}`, `{"schema":1.5}`, `{"schema":"1"}`, `{"schema":99999999999999999999}`,
		`[]`, `null`, ``, `{"correlation_id":"a"`, `{"a":1}x`,
	} {
		checkMetadata(t, []byte(data))
	}
}

// FuzzDecodeMetadata is a differential test against encoding/json.
func FuzzDecodeMetadata(f *testing.F) {
	f.Add([]byte(`{"correlation_id":"c-1","causation_id":"e-1","schema":1,"actor":"fulfilment","command_events":2}`))
	f.Add([]byte(`{"Schema":1,"x":[1],"correlation_id":"\u0041"}`))
	f.Fuzz(func(t *testing.T, data []byte) { checkMetadata(t, data) })
}
