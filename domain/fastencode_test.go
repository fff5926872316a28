package domain

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// checkEncode fails if e's direct encoder writes other bytes than
// encoding/json. It reports whether the direct encoder took e.
func checkEncode(t *testing.T, e Event) bool {
	t.Helper()
	want, err := json.Marshal(e)
	d, ok := e.(directEncoder)
	if !ok {
		return false
	}
	got, direct := d.appendJSON(nil)
	if !direct {
		return false
	}
	if err != nil {
		t.Fatalf("%T: the direct encoder wrote %s, encoding/json fails: %v", e, got, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%T: direct\n%s\nencoding/json\n%s", e, got, want)
	}
	return true
}

// TestEncode_Direct checks the direct encoders on the sample events and on
// values each of which takes encoding/json instead.
func TestEncode_Direct(t *testing.T) {
	for _, e := range sampleEvents() {
		if _, ok := e.(directEncoder); ok && !checkEncode(t, e) {
			t.Errorf("%T %+v took encoding/json", e, e)
		}
	}
	at := time.Date(2026, 3, 1, 10, 0, 0, 120000000, time.UTC)
	for _, e := range []Event{
		OrderPlaced{OrderID: "o", Currency: "EUR", PlacedAt: at}, // nil lines: null
		OrderPlaced{OrderID: "o", Lines: []Line{}, PlacedAt: at.In(time.FixedZone("", 90*60))},
		OrderPaid{Amount: -1 << 63, PaidAt: at},
		OrderCancelled{CancelledAt: time.Time{}},
		OrderRejected{Reason: RejectOutOfStock, RejectedAt: at}, // nil short: null
		OrderRejected{Reason: RejectOutOfStock, Short: []Shortage{}, RejectedAt: at},
	} {
		if !checkEncode(t, e) {
			t.Errorf("%T %+v took encoding/json", e, e)
		}
	}
	for _, e := range []Event{
		OrderCancelled{Reason: "a \"quoted\" reason", CancelledAt: at},
		OrderCancelled{Reason: "line\nbreak", CancelledAt: at},
		OrderCancelled{Reason: "<b>&</b>", CancelledAt: at},
		OrderCancelled{Reason: "café", CancelledAt: at},
		OrderCancelled{Reason: "\x7f", CancelledAt: at},
		OrderShipped{Carrier: "c", ShippedAt: at.In(time.FixedZone("", 30))},
		OrderShipped{Carrier: "c", ShippedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		StockReceived{SKU: "S", ReceivedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		OrderRejected{Reason: RejectOutOfStock, Short: []Shortage{{SKU: "é"}}, RejectedAt: at},
		StockReleased{SKU: "S", OrderID: "o", Reason: "<", ReleasedAt: at},
	} {
		if checkEncode(t, e) {
			t.Errorf("%T %+v took the direct encoder", e, e)
		}
		// Encode still encodes it, through encoding/json, or refuses it
		// as encoding/json does.
		_, got, err := Encode(e)
		want, wantErr := json.Marshal(e)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
			t.Errorf("Encode(%+v) = %s, %v; encoding/json %s, %v", e, got, err, want, wantErr)
		}
	}
}

// FuzzEncodeDirect checks the direct encoders against encoding/json on
// arbitrary strings, numbers and times.
func FuzzEncodeDirect(f *testing.F) {
	f.Add("o-1", "EUR", "SKU-1", int64(3), int64(1250), int64(1772359200120000000), 0)
	f.Add("a\"b", "é", "<", int64(-1), int64(0), int64(-62135596800000000000/1000), 59)
	f.Fuzz(func(t *testing.T, id, text, sku string, n, m, nanos int64, offsetMinutes int) {
		at := time.Unix(0, nanos).In(time.FixedZone("", offsetMinutes%(24*60)*60))
		lines := []Line{{SKU: sku, Quantity: n, UnitPrice: m}, {SKU: id, Quantity: m, UnitPrice: n}}
		for _, e := range []Event{
			OrderPlaced{OrderID: id, CustomerID: text, Currency: sku, Lines: lines, PlacedAt: at},
			OrderPlaced{OrderID: id, Lines: lines[:1], PlacedAt: at, ReserveStock: true},
			OrderLineAdded{SKU: sku, Quantity: n, UnitPrice: m},
			OrderLineRemoved{SKU: text},
			OrderPaid{Amount: n, PaymentRef: text, PaidAt: at},
			OrderShipped{Carrier: id, Tracking: text, ShippedAt: at},
			OrderCancelled{Reason: text, RefundedAmount: m, CancelledAt: at},
			StockReceived{SKU: sku, Quantity: n, ReceivedAt: at},
			OrderStockReserved{ReservedAt: at},
			OrderRejected{Reason: text, Short: []Shortage{{SKU: sku, Requested: n, Available: m}, {SKU: id}}, RefundedAmount: m, RejectedAt: at},
			StockReserved{SKU: sku, OrderID: id, Quantity: n, ReservedAt: at},
			StockReservationRefused{SKU: sku, OrderID: id, Requested: n, Available: m, RefusedAt: at},
			StockReleased{SKU: sku, OrderID: id, Quantity: n, Reason: text, ReleasedAt: at},
			StockShipped{SKU: sku, OrderID: id, Quantity: n, ShippedAt: at},
		} {
			checkEncode(t, e)
		}
	})
}

// TestEncode_DirectSeesEveryField guards against a field added to an event
// type and not to its direct encoder: the sample of every type with one
// sets every field, so that TestEncode_Direct would see the field missing.
func TestEncode_DirectSeesEveryField(t *testing.T) {
	for _, e := range sampleEvents() {
		if _, ok := e.(directEncoder); !ok {
			continue
		}
		v := reflect.ValueOf(e)
		for i := range v.NumField() {
			if v.Field(i).IsZero() {
				t.Errorf("the sample %T leaves %s zero: give it a value in sampleEvents", e, v.Type().Field(i).Name)
			}
		}
	}
}
