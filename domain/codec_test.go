package domain

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// sampleEvents returns one event of each type, as in testdata/<type>.golden.
func sampleEvents() []Event {
	at := time.Date(2025, 3, 1, 10, 30, 0, 123_000_000, time.UTC)
	return []Event{
		OrderPlaced{OrderID: "o-1001", CustomerID: "c-42", Currency: "EUR", Lines: []Line{
			{SKU: "SKU-1", Quantity: 2, UnitPrice: 1250},
			{SKU: "SKU-2", Quantity: 1, UnitPrice: 0},
		}, PlacedAt: at, ReserveStock: true},
		OrderLineAdded{SKU: "SKU-3", Quantity: 4, UnitPrice: 99},
		OrderLineRemoved{SKU: "SKU-2"},
		OrderPaid{Amount: 2896, PaymentRef: "pay_8f3a", PaidAt: at.Add(time.Minute)},
		OrderShipped{Carrier: "UPS", Tracking: "1Z999AA10123456784", ShippedAt: at.Add(time.Hour)},
		OrderCancelled{Reason: "customer asked", RefundedAmount: 2896, CancelledAt: at.Add(2 * time.Hour)},
		StockReceived{SKU: "SKU-1", Quantity: 100, ReceivedAt: at},
		OrderStockReserved{ReservedAt: at.Add(time.Second)},
		OrderRejected{Reason: RejectOutOfStock, Short: []Shortage{{SKU: "SKU-1", Requested: 2, Available: 1}},
			RefundedAmount: 2896, RejectedAt: at.Add(time.Second)},
		StockReserved{SKU: "SKU-1", OrderID: "o-1001", Quantity: 2, ReservedAt: at},
		StockReservationRefused{SKU: "SKU-1", OrderID: "o-1001", Requested: 2, Available: 1, RefusedAt: at},
		StockReleased{SKU: "SKU-1", OrderID: "o-1001", Quantity: 2, Reason: ReleaseCancelled, ReleasedAt: at},
		StockShipped{SKU: "SKU-1", OrderID: "o-1001", Quantity: 2, ShippedAt: at},
	}
}

func TestEncode_Golden(t *testing.T) {
	t.Parallel()
	for _, e := range sampleEvents() {
		t.Run(e.EventType(), func(t *testing.T) {
			t.Parallel()
			typ, data, err := Encode(e)
			if err != nil || typ != e.EventType() {
				t.Fatalf("Encode = %q, %v; want %q", typ, err, e.EventType())
			}
			path := filepath.Join("testdata", typ+".golden")
			data = append(data, '\n')
			if *update {
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, want) {
				t.Errorf("Encode(%s):\n got %s\nwant %s", typ, data, want)
			}
			// Stored payloads must keep decoding to the same event.
			got, err := Decode(typ, want)
			if err != nil || !reflect.DeepEqual(got, e) {
				t.Errorf("Decode(golden) = %#v, %v; want %#v", got, err, e)
			}
		})
	}
}

func TestCodec_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, e := range append(sampleEvents(), OrderPlaced{}, OrderCancelled{}, OrderLineAdded{}, OrderRejected{},
		OrderPlaced{OrderID: "o", ReserveStock: true}) {
		typ, data, err := Encode(e)
		if err != nil {
			t.Fatalf("Encode(%#v): %v", e, err)
		}
		got, err := Decode(typ, data)
		if err != nil {
			t.Fatalf("Decode(%s, %s): %v", typ, data, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("round trip of %s:\n got %#v\nwant %#v", typ, got, e)
		}
	}
}

type fakeEvent struct{}

func (fakeEvent) EventType() string { return "OrderPaid" }

func TestEncode_UnknownEvent(t *testing.T) {
	t.Parallel()
	for _, e := range []Event{nil, fakeEvent{}, &OrderPaid{}} {
		if _, _, err := Encode(e); !errors.Is(err, ErrUnknownEventType) {
			t.Errorf("Encode(%#v) error = %v, want ErrUnknownEventType", e, err)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		typ     string
		data    string
		want    Event
		wantErr error
	}{
		{"unknown fields ignored", TypeOrderLineAdded, `{"sku":"A","quantity":1,"unit_price":2,"discount":{"x":[1]}}`,
			OrderLineAdded{SKU: "A", Quantity: 1, UnitPrice: 2}, nil},
		{"missing fields zero", TypeOrderPaid, ` {} `, OrderPaid{}, nil},
		{"unknown type", "OrderRefunded", `{}`, nil, ErrUnknownEventType},
		{"type is case sensitive", "orderplaced", `{}`, nil, ErrUnknownEventType},
		{"empty type", "", `{}`, nil, ErrUnknownEventType},
		{"empty payload", TypeOrderPaid, ``, nil, ErrMalformedEvent},
		{"null", TypeOrderPaid, `null`, nil, ErrMalformedEvent},
		{"array", TypeOrderPaid, `[]`, nil, ErrMalformedEvent},
		{"string", TypeOrderPaid, `"x"`, nil, ErrMalformedEvent},
		{"truncated", TypeOrderPaid, `{"amount":1`, nil, ErrMalformedEvent},
		{"trailing data", TypeOrderPaid, `{}{}`, nil, ErrMalformedEvent},
		{"string amount", TypeOrderPaid, `{"amount":"1"}`, nil, ErrMalformedEvent},
		{"fractional amount", TypeOrderPaid, `{"amount":1.5}`, nil, ErrMalformedEvent},
		{"huge quantity", TypeOrderLineAdded, `{"quantity":1e40}`, nil, ErrMalformedEvent},
		{"lines not array", TypeOrderPlaced, `{"lines":{}}`, nil, ErrMalformedEvent},
		{"bad time", TypeOrderShipped, `{"shipped_at":"yesterday"}`, nil, ErrMalformedEvent},
		{"numeric sku", TypeOrderLineRemoved, `{"sku":7}`, nil, ErrMalformedEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(tc.typ, []byte(tc.data))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || got != nil {
					t.Fatalf("Decode = %#v, %v; want error %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decode = %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

func TestDecode_TimeOffset(t *testing.T) {
	t.Parallel()
	e, err := Decode(TypeOrderPlaced, []byte(`{"placed_at":"2025-03-01T12:30:00+02:00"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2025, 3, 1, 10, 30, 0, 0, time.UTC)
	if got := e.(OrderPlaced).PlacedAt; !got.Equal(want) {
		t.Errorf("PlacedAt = %v, want %v", got, want)
	}
	if got := Evolve(Order{}, e).PlacedAt; !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Evolve: PlacedAt = %v, want %v (UTC)", got, want)
	}
}

func FuzzDecode(f *testing.F) {
	for _, e := range sampleEvents() {
		typ, data, err := Encode(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(typ, data)
	}
	f.Add(TypeOrderPaid, []byte(`{"amount":"x","paid_at":"2025-13-01T00:00:00Z"}`))
	f.Add(TypeOrderPlaced, []byte(`{"lines":[{"sku":1},null],"placed_at":null}`))
	f.Add(TypeStockReceived, []byte(`{"received_at":"9999-12-31T23:59:59-23:59"}`))
	f.Add("Nope", []byte(`{}`))
	f.Add(TypeOrderShipped, []byte("\xff"))
	f.Fuzz(func(t *testing.T, typ string, data []byte) {
		e, err := Decode(typ, data)
		if err != nil {
			if e != nil {
				t.Fatalf("Decode returned %#v with error %v", e, err)
			}
			if !errors.Is(err, ErrUnknownEventType) && !errors.Is(err, ErrMalformedEvent) {
				t.Fatalf("Decode error %v matches no sentinel", err)
			}
			return
		}
		// Whatever decodes must encode, and encode the same once decoded again.
		typ2, data2, err := Encode(e)
		if err != nil || typ2 != typ {
			t.Fatalf("Encode(%#v) = %q, %v; want type %q", e, typ2, err, typ)
		}
		e3, err := Decode(typ2, data2)
		if err != nil {
			t.Fatalf("Decode(Encode(e)) of %s: %v", data2, err)
		}
		if _, data3, err := Encode(e3); err != nil || !bytes.Equal(data3, data2) {
			t.Fatalf("re-encoding changed %s into %s (%v)", data2, data3, err)
		}
		_ = Evolve(Order{}, e)
	})
}
