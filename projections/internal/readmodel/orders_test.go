package readmodel

import (
	"errors"
	"reflect"
	"testing"

	"github.com/orderstore/orderstore/domain"
)

func TestOrderCodec(t *testing.T) {
	t.Parallel()
	for _, o := range []domain.Order{
		{Status: domain.StatusPlaced, Currency: "EUR", Lines: []domain.Line{}},
		{Status: domain.StatusPaid, Currency: "JPY", Lines: []domain.Line{
			{SKU: "A", Quantity: 1, UnitPrice: 0},
			{SKU: "sku with ünïcode", Quantity: 1_000_000, UnitPrice: 100_000_000_000},
			{SKU: "", Quantity: -3, UnitPrice: -1}, // facts are not validated
		}},
		{Status: domain.StatusPlaced, Currency: "EUR", Lines: []domain.Line{{SKU: "A", Quantity: 1}},
			ReserveStock: true, StockReservation: domain.ReservationPending},
	} {
		got, err := decodeOrder(encodeOrder(o))
		if err != nil || !reflect.DeepEqual(got, o) {
			t.Errorf("decode(encode(%+v)) = %+v, %v", o, got, err)
		}
	}
}

func TestOrderCodec_Corrupt(t *testing.T) {
	t.Parallel()
	valid := encodeOrder(domain.Order{Status: domain.StatusPlaced, Currency: "EUR", Lines: []domain.Line{{SKU: "A", Quantity: 2, UnitPrice: 3}}})
	for i := range len(valid) {
		if _, err := decodeOrder(valid[:i]); !errors.Is(err, errCorrupt) {
			t.Errorf("decode of the first %d bytes: %v, want errCorrupt", i, err)
		}
	}
	if _, err := decodeOrder(append(valid, 0)); !errors.Is(err, errCorrupt) {
		t.Errorf("decode with a trailing byte: %v, want errCorrupt", err)
	}
	if _, err := decodeOrder([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}); !errors.Is(err, errCorrupt) {
		t.Errorf("decode of a huge line count: %v, want errCorrupt", err)
	}
}

func FuzzDecodeOrder(f *testing.F) {
	f.Add(encodeOrder(domain.Order{Status: domain.StatusPaid, Currency: "USD", Lines: []domain.Line{{SKU: "A", Quantity: 1, UnitPrice: 5}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeOrder(b)
		if err != nil {
			return
		}
		if again, err := decodeOrder(encodeOrder(o)); err != nil || !reflect.DeepEqual(again, o) {
			t.Errorf("round trip of %+v: %+v, %v", o, again, err)
		}
	})
}
