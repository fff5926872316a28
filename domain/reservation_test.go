package domain

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// Fixtures of an order placed under the reserve stock policy.
var (
	rPlaced = OrderPlaced{OrderID: "o-1", CustomerID: "c-1", Currency: "EUR", ReserveStock: true, PlacedAt: t0,
		Lines: []Line{{SKU: "A", Quantity: 2, UnitPrice: 500}, {SKU: "B", Quantity: 1, UnitPrice: 1000}}}
	rReserved = OrderStockReserved{ReservedAt: t0.Add(time.Minute)}
	rRejected = OrderRejected{Reason: RejectOutOfStock, Short: []Shortage{{SKU: "B", Requested: 1}}, RejectedAt: t0.Add(time.Minute)}
)

func TestDecide_Reservation(t *testing.T) {
	t.Parallel()
	timeout := 30 * time.Minute
	runDecide(t, []decideCase{
		{name: "place reserving", cmd: PlaceOrder{ID: "o-1", CustomerID: "c-1", Currency: "EUR", ReserveStock: true,
			Lines: []Line{{SKU: "A", Quantity: 2, UnitPrice: 500}}},
			want: []Event{OrderPlaced{OrderID: "o-1", CustomerID: "c-1", Currency: "EUR", ReserveStock: true,
				Lines: []Line{{SKU: "A", Quantity: 2, UnitPrice: 500}}, PlacedAt: now}}},

		{name: "record reserved", given: []Event{rPlaced}, cmd: RecordStockReserved{}, want: []Event{OrderStockReserved{ReservedAt: now}}},
		{name: "record reserved paid", given: []Event{rPlaced, paid}, cmd: RecordStockReserved{}, want: []Event{OrderStockReserved{ReservedAt: now}}},
		{name: "record reserved twice", given: []Event{rPlaced, rReserved}, cmd: RecordStockReserved{}, wantErr: ErrNotAllowed},
		{name: "record reserved after a line added", given: []Event{rPlaced, rReserved, OrderLineAdded{SKU: "C", Quantity: 1, UnitPrice: 1}},
			cmd: RecordStockReserved{}, want: []Event{OrderStockReserved{ReservedAt: now}}},
		{name: "record reserved track order", given: placedGiven, cmd: RecordStockReserved{}, wantErr: ErrNotAllowed},
		{name: "record reserved cancelled", given: []Event{rPlaced, cancelled}, cmd: RecordStockReserved{}, wantErr: ErrNotAllowed},
		{name: "record reserved missing", cmd: RecordStockReserved{}, wantErr: ErrOrderNotFound},

		{name: "reject placed", given: []Event{rPlaced}, cmd: Reject{Reason: RejectOutOfStock, Short: []Shortage{{SKU: "B", Requested: 1}}},
			want: []Event{OrderRejected{Reason: RejectOutOfStock, Short: []Shortage{{SKU: "B", Requested: 1}}, RejectedAt: now}}},
		{name: "reject paid refunds", given: []Event{rPlaced, paid}, cmd: Reject{Reason: RejectOutOfStock},
			want: []Event{OrderRejected{Reason: RejectOutOfStock, RefundedAmount: 2000, RejectedAt: now}}},
		{name: "reject rejected", given: []Event{rPlaced, rRejected}, cmd: Reject{Reason: RejectOutOfStock}, wantErr: ErrNotAllowed},
		{name: "reject shipped", given: []Event{rPlaced, rReserved, paid, shipped}, cmd: Reject{Reason: RejectOutOfStock}, wantErr: ErrNotAllowed},
		{name: "reject cancelled", given: []Event{rPlaced, cancelled}, cmd: Reject{Reason: RejectOutOfStock}, wantErr: ErrNotAllowed},
		{name: "pay rejected", given: []Event{rPlaced, rRejected}, cmd: validPay, wantErr: ErrNotAllowed},
		{name: "cancel rejected", given: []Event{rPlaced, rRejected}, cmd: Cancel{}, wantErr: ErrNotAllowed},

		{name: "pay pending", given: []Event{rPlaced}, cmd: validPay, want: []Event{OrderPaid{Amount: 2000, PaymentRef: "pay-2", PaidAt: now}}},
		{name: "ship pending", given: []Event{rPlaced, paid}, cmd: validShip, wantErr: ErrNotAllowed},
		{name: "ship reserved", given: []Event{rPlaced, rReserved, paid}, cmd: validShip,
			want: []Event{OrderShipped{Carrier: "DHL", Tracking: "JD0001", ShippedAt: now}}},
		{name: "ship track order", given: paidGiven, cmd: validShip,
			want: []Event{OrderShipped{Carrier: "DHL", Tracking: "JD0001", ShippedAt: now}}},

		{name: "expire due", given: []Event{rPlaced, OrderStockReserved{ReservedAt: now.Add(-timeout)}}, cmd: ExpirePayment{Timeout: timeout},
			want: []Event{OrderCancelled{Reason: CancelPaymentTimeout, CancelledAt: now}}},
		{name: "expire not yet due", given: []Event{rPlaced, OrderStockReserved{ReservedAt: now.Add(-timeout + time.Nanosecond)}},
			cmd: ExpirePayment{Timeout: timeout}, wantErr: ErrNotAllowed},
		{name: "expire paid", given: []Event{rPlaced, rReserved, paid}, cmd: ExpirePayment{Timeout: timeout}, wantErr: ErrNotAllowed},
		{name: "expire pending", given: []Event{rPlaced}, cmd: ExpirePayment{Timeout: timeout}, wantErr: ErrNotAllowed},
		{name: "expire from first reservation", given: []Event{rPlaced, OrderStockReserved{ReservedAt: now.Add(-timeout)},
			OrderLineAdded{SKU: "C", Quantity: 1, UnitPrice: 1}, OrderStockReserved{ReservedAt: now}},
			cmd: ExpirePayment{Timeout: timeout}, want: []Event{OrderCancelled{Reason: CancelPaymentTimeout, CancelledAt: now}}},
		{name: "expire cancelled", given: []Event{rPlaced, rReserved, cancelled}, cmd: ExpirePayment{Timeout: timeout}, wantErr: ErrNotAllowed},
		{name: "expire without timeout", given: []Event{rPlaced, rReserved}, cmd: ExpirePayment{}, wantErr: ErrInvalid, wantField: "timeout"},
	})
}

func TestEvolve_Reservation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  []Event
		status Status
		res    Reservation
	}{
		{"track", []Event{placed}, StatusPlaced, ReservationNone},
		{"track cancelled", []Event{placed, cancelled}, StatusCancelled, ReservationNone},
		{"pending", []Event{rPlaced}, StatusPlaced, ReservationPending},
		{"reserved", []Event{rPlaced, rReserved}, StatusPlaced, ReservationReserved},
		{"line added", []Event{rPlaced, rReserved, OrderLineAdded{SKU: "C", Quantity: 1}}, StatusPlaced, ReservationPending},
		{"line removed", []Event{rPlaced, rReserved, OrderLineRemoved{SKU: "B"}}, StatusPlaced, ReservationReserved},
		{"paid", []Event{rPlaced, rReserved, paid}, StatusPaid, ReservationReserved},
		{"shipped", []Event{rPlaced, rReserved, paid, shipped}, StatusShipped, ReservationReserved},
		{"cancelled", []Event{rPlaced, rReserved, cancelled}, StatusCancelled, ReservationReleased},
		{"rejected", []Event{rPlaced, rRejected}, StatusRejected, ReservationReleased},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := Fold(tc.given)
			if o.Status != tc.status || o.StockReservation != tc.res {
				t.Errorf("status %s, reservation %s; want %s, %s", o.Status, o.StockReservation, tc.status, tc.res)
			}
		})
	}
	o := Fold([]Event{rPlaced, paid, rRejected})
	if o.RefundedAmount != 0 || o.RejectReason != RejectOutOfStock || !reflect.DeepEqual(o.Short, rRejected.Short) || !o.RejectedAt.Equal(rRejected.RejectedAt) {
		t.Errorf("rejected order %+v", o)
	}
	if d := Fold([]Event{rPlaced, rReserved}).PaymentDeadline(time.Hour); !d.Equal(rReserved.ReservedAt.Add(time.Hour)) {
		t.Errorf("PaymentDeadline = %v", d)
	}
	if d := Fold([]Event{rPlaced, rReserved, paid}).PaymentDeadline(time.Hour); !d.IsZero() {
		t.Errorf("PaymentDeadline of a paid order = %v, want none", d)
	}
}

func TestDecideReservation(t *testing.T) {
	t.Parallel()
	recv := StockReceived{SKU: "A", Quantity: 5, ReceivedAt: t0}
	res := func(order string, q int64) StockReserved {
		return StockReserved{SKU: "A", OrderID: order, Quantity: q, ReservedAt: t0}
	}
	tests := []struct {
		name    string
		given   []Event
		cmd     Command
		want    []Event
		wantErr error
	}{
		{"reserve", []Event{recv}, ReserveStock{OrderID: "o-1", Quantity: 3},
			[]Event{StockReserved{SKU: "A", OrderID: "o-1", Quantity: 3, ReservedAt: now}}, nil},
		{"reserve all", []Event{recv, res("o-2", 2)}, ReserveStock{OrderID: "o-1", Quantity: 3},
			[]Event{StockReserved{SKU: "A", OrderID: "o-1", Quantity: 3, ReservedAt: now}}, nil},
		{"reserve again", []Event{recv, res("o-1", 3)}, ReserveStock{OrderID: "o-1", Quantity: 3}, nil, nil},
		{"reserve more", []Event{recv, res("o-1", 3)}, ReserveStock{OrderID: "o-1", Quantity: 4},
			[]Event{StockReserved{SKU: "A", OrderID: "o-1", Quantity: 1, ReservedAt: now}}, nil},
		{"reserve less", []Event{recv, res("o-1", 3)}, ReserveStock{OrderID: "o-1", Quantity: 1},
			[]Event{StockReleased{SKU: "A", OrderID: "o-1", Quantity: 2, Reason: ReleaseLineRemoved, ReleasedAt: now}}, nil},
		{"refused", []Event{recv, res("o-2", 4)}, ReserveStock{OrderID: "o-1", Quantity: 3},
			[]Event{StockReservationRefused{SKU: "A", OrderID: "o-1", Requested: 3, Available: 1, RefusedAt: now}}, nil},
		{"refused without stock", []Event{}, ReserveStock{OrderID: "o-1", Quantity: 3},
			[]Event{StockReservationRefused{OrderID: "o-1", Requested: 3, Available: 0, RefusedAt: now}}, nil},
		{"refused stays refused", []Event{StockReservationRefused{SKU: "A", OrderID: "o-1", Requested: 3}, recv},
			ReserveStock{OrderID: "o-1", Quantity: 3}, nil, nil},
		{"refused after shipments", []Event{recv, res("o-2", 4), StockShipped{SKU: "A", OrderID: "o-2", Quantity: 4}},
			ReserveStock{OrderID: "o-1", Quantity: 2},
			[]Event{StockReservationRefused{SKU: "A", OrderID: "o-1", Requested: 2, Available: 1, RefusedAt: now}}, nil},
		{"available after release", []Event{recv, res("o-2", 4), StockReleased{SKU: "A", OrderID: "o-2", Quantity: 4, Reason: ReleaseCancelled}},
			ReserveStock{OrderID: "o-1", Quantity: 5},
			[]Event{StockReserved{SKU: "A", OrderID: "o-1", Quantity: 5, ReservedAt: now}}, nil},
		{"reserve after release for good", []Event{recv, res("o-1", 2), StockReleased{SKU: "A", OrderID: "o-1", Quantity: 2, Reason: ReleaseRejected}},
			ReserveStock{OrderID: "o-1", Quantity: 2}, nil, nil},
		{"reserve after shipping", []Event{recv, res("o-1", 2), StockShipped{SKU: "A", OrderID: "o-1", Quantity: 2}},
			ReserveStock{OrderID: "o-1", Quantity: 2}, nil, nil},
		{"reserve again after a line removed", []Event{recv, res("o-1", 2), StockReleased{SKU: "A", OrderID: "o-1", Quantity: 2, Reason: ReleaseLineRemoved}},
			ReserveStock{OrderID: "o-1", Quantity: 1},
			[]Event{StockReserved{SKU: "A", OrderID: "o-1", Quantity: 1, ReservedAt: now}}, nil},

		{"release", []Event{recv, res("o-1", 3)}, ReleaseStock{OrderID: "o-1", Reason: ReleaseCancelled},
			[]Event{StockReleased{SKU: "A", OrderID: "o-1", Quantity: 3, Reason: ReleaseCancelled, ReleasedAt: now}}, nil},
		{"release again", []Event{recv, res("o-1", 3), StockReleased{SKU: "A", OrderID: "o-1", Quantity: 3, Reason: ReleaseRejected}},
			ReleaseStock{OrderID: "o-1", Reason: ReleaseRejected}, nil, nil},
		{"release nothing", []Event{recv}, ReleaseStock{OrderID: "o-1", Reason: ReleaseCancelled}, nil, nil},
		{"release refused", []Event{StockReservationRefused{SKU: "A", OrderID: "o-1", Requested: 3}},
			ReleaseStock{OrderID: "o-1", Reason: ReleaseRejected}, nil, nil},
		{"release bad reason", []Event{recv, res("o-1", 3)}, ReleaseStock{OrderID: "o-1", Reason: "whim"}, nil, ErrInvalid},

		{"ship", []Event{recv, res("o-1", 3)}, ShipStock{OrderID: "o-1"},
			[]Event{StockShipped{SKU: "A", OrderID: "o-1", Quantity: 3, ShippedAt: now}}, nil},
		{"ship again", []Event{recv, res("o-1", 3), StockShipped{SKU: "A", OrderID: "o-1", Quantity: 3}}, ShipStock{OrderID: "o-1"}, nil, nil},
		{"ship released", []Event{recv, res("o-1", 3), StockReleased{SKU: "A", OrderID: "o-1", Quantity: 3, Reason: ReleaseCancelled}},
			ShipStock{OrderID: "o-1"}, nil, nil},

		{"bad order", []Event{recv}, ReserveStock{OrderID: "", Quantity: 1}, nil, ErrInvalid},
		{"bad quantity", []Event{recv}, ReserveStock{OrderID: "o-1", Quantity: 0}, nil, ErrInvalid},
		{"not a stock command", []Event{recv}, Pay{}, nil, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var s Stock
			for _, e := range tc.given {
				s.Apply(e)
			}
			before := s.Available()
			got, err := DecideReservation(&s, tc.cmd, now)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr != nil && got != nil) {
				t.Fatalf("DecideReservation = %v, %v; want error %v", got, err, tc.wantErr)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DecideReservation:\n got %#v\nwant %#v", got, tc.want)
			}
			if s.Available() != before {
				t.Errorf("DecideReservation changed the stock")
			}
			for _, e := range got {
				s.Apply(e)
			}
			if s.Available() < 0 && tc.given != nil && len(tc.given) > 0 {
				t.Errorf("available %d after the decision", s.Available())
			}
			// Deciding again on the new state changes nothing.
			if again, err := DecideReservation(&s, tc.cmd, now); err == nil && again != nil {
				if _, ok := tc.cmd.(ReserveStock); !ok || len(got) > 0 {
					t.Errorf("repeated step decided %#v", again)
				}
			}
		})
	}
}

func TestStock_Figures(t *testing.T) {
	t.Parallel()
	var s Stock
	for _, e := range []Event{
		StockReceived{SKU: "A", Quantity: 10},
		StockReserved{SKU: "A", OrderID: "o-1", Quantity: 3},
		StockReserved{SKU: "A", OrderID: "o-2", Quantity: 4},
		StockReleased{SKU: "A", OrderID: "o-1", Quantity: 1, Reason: ReleaseLineRemoved},
		StockShipped{SKU: "A", OrderID: "o-2", Quantity: 4},
	} {
		s.Apply(e)
	}
	if s.Received != 10 || s.Reserved != 2 || s.Shipped != 4 || s.Available() != 4 || s.Holds["o-1"].Reserved != 2 || !s.Holds["o-2"].Closed {
		t.Errorf("stock %+v, available %d", s, s.Available())
	}
}
