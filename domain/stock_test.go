package domain

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestDecideStock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		cmd       ReceiveStock
		want      []Event
		wantField string
	}{
		{"valid", ReceiveStock{SKU: "A-1", Quantity: 5}, []Event{StockReceived{SKU: "A-1", Quantity: 5, ReceivedAt: now}}, ""},
		{"max quantity", ReceiveStock{SKU: "A", Quantity: MaxQuantity}, []Event{StockReceived{SKU: "A", Quantity: MaxQuantity, ReceivedAt: now}}, ""},
		{"empty sku", ReceiveStock{Quantity: 5}, nil, "sku"},
		{"bad sku", ReceiveStock{SKU: ".A", Quantity: 5}, nil, "sku"},
		{"zero quantity", ReceiveStock{SKU: "A"}, nil, "quantity"},
		{"negative quantity", ReceiveStock{SKU: "A", Quantity: -3}, nil, "quantity"},
		{"quantity too large", ReceiveStock{SKU: "A", Quantity: MaxQuantity + 1}, nil, "quantity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecideStock(tc.cmd, now.In(time.FixedZone("X", 3600)))
			if tc.wantField != "" {
				ve, ok := errors.AsType[*ValidationError](err)
				if !ok || ve.Field != tc.wantField || !errors.Is(err, ErrInvalid) || got != nil {
					t.Fatalf("DecideStock = %v, %v; want a ValidationError for %q", got, err, tc.wantField)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DecideStock = %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	if got := OrderStream("o-1"); got != "order-o-1" {
		t.Errorf("OrderStream = %q", got)
	}
	if got := StockStream("SKU.1"); got != "stock-SKU.1" {
		t.Errorf("StockStream = %q", got)
	}
}
