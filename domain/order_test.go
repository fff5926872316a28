package domain

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Fixtures: an order of total 2000 and its lifecycle events.
var (
	t0  = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	now = time.Date(2025, 3, 2, 12, 30, 0, 0, time.UTC)

	placed = OrderPlaced{
		OrderID: "o-1", CustomerID: "c-1", Currency: "EUR",
		Lines:    []Line{{SKU: "A", Quantity: 2, UnitPrice: 500}, {SKU: "B", Quantity: 1, UnitPrice: 1000}},
		PlacedAt: t0,
	}
	placedOneLine = OrderPlaced{
		OrderID: "o-1", CustomerID: "c-1", Currency: "EUR",
		Lines:    []Line{{SKU: "A", Quantity: 2, UnitPrice: 500}},
		PlacedAt: t0,
	}
	paid          = OrderPaid{Amount: 2000, PaymentRef: "pay-1", PaidAt: t0.Add(time.Hour)}
	shipped       = OrderShipped{Carrier: "UPS", Tracking: "1Z999", ShippedAt: t0.Add(2 * time.Hour)}
	cancelled     = OrderCancelled{Reason: "changed my mind", CancelledAt: t0.Add(time.Hour)}
	refunded      = OrderCancelled{Reason: "late", RefundedAmount: 2000, CancelledAt: t0.Add(2 * time.Hour)}
	validPlace    = PlaceOrder{ID: "o-1", CustomerID: "c-1", Currency: "EUR", Lines: []Line{{SKU: "A", Quantity: 2, UnitPrice: 500}}}
	validPay      = Pay{Amount: 2000, PaymentRef: "pay-2"}
	validShip     = Ship{Carrier: "DHL", Tracking: "JD0001"}
	placedGiven   = []Event{placed}
	paidGiven     = []Event{placed, paid}
	shippedGiven  = []Event{placed, paid, shipped}
	cancelGiven   = []Event{placed, cancelled}
	refundedGiven = []Event{placed, paid, refunded}
)

type decideCase struct {
	name      string
	given     []Event
	cmd       Command
	want      []Event
	wantErr   error
	wantField string // the ValidationError's field, when wantErr is ErrInvalid
}

// runDecide runs table cases: given events, when command, then events or error.
func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := Fold(tc.given)
			before := Fold(tc.given)
			got, err := Decide(o, tc.cmd, now)
			if !reflect.DeepEqual(o, before) {
				t.Errorf("Decide modified its state:\n got %+v\nwant %+v", o, before)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Decide error = %v, want %v", err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("Decide events = %v with error %v, want none", got, err)
				}
				if tc.wantField != "" {
					ve, ok := errors.AsType[*ValidationError](err)
					if !ok || ve.Field != tc.wantField {
						t.Errorf("Decide error = %v, want a *ValidationError for field %q", err, tc.wantField)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Decide error = %v, want events %v", err, tc.want)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide events:\n got %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestDecide_Transitions(t *testing.T) {
	t.Parallel()
	runDecide(t, []decideCase{
		// From no order.
		{name: "place new", cmd: validPlace, want: []Event{OrderPlaced{
			OrderID: "o-1", CustomerID: "c-1", Currency: "EUR",
			Lines: []Line{{SKU: "A", Quantity: 2, UnitPrice: 500}}, PlacedAt: now,
		}}},
		{name: "add line missing", cmd: AddLine{SKU: "C", Quantity: 1, UnitPrice: 1}, wantErr: ErrOrderNotFound},
		{name: "remove line missing", cmd: RemoveLine{SKU: "A"}, wantErr: ErrOrderNotFound},
		{name: "pay missing", cmd: validPay, wantErr: ErrOrderNotFound},
		{name: "ship missing", cmd: validShip, wantErr: ErrOrderNotFound},
		{name: "cancel missing", cmd: Cancel{}, wantErr: ErrOrderNotFound},
		{name: "stock event only", given: []Event{StockReceived{SKU: "A", Quantity: 1}}, cmd: validPay, wantErr: ErrOrderNotFound},

		// From placed.
		{name: "place placed", given: placedGiven, cmd: validPlace, wantErr: ErrOrderExists},
		{name: "add new line", given: placedGiven, cmd: AddLine{SKU: "C", Quantity: 3, UnitPrice: 250},
			want: []Event{OrderLineAdded{SKU: "C", Quantity: 3, UnitPrice: 250}}},
		{name: "add to existing line", given: placedGiven, cmd: AddLine{SKU: "A", Quantity: 3, UnitPrice: 500},
			want: []Event{OrderLineAdded{SKU: "A", Quantity: 3, UnitPrice: 500}}},
		{name: "remove line", given: placedGiven, cmd: RemoveLine{SKU: "A"}, want: []Event{OrderLineRemoved{SKU: "A"}}},
		{name: "remove last line", given: []Event{placedOneLine}, cmd: RemoveLine{SKU: "A"}, wantErr: ErrNotAllowed},
		{name: "remove down to last line", given: []Event{placed, OrderLineRemoved{SKU: "B"}}, cmd: RemoveLine{SKU: "A"}, wantErr: ErrNotAllowed},
		{name: "pay placed", given: placedGiven, cmd: validPay,
			want: []Event{OrderPaid{Amount: 2000, PaymentRef: "pay-2", PaidAt: now}}},
		{name: "pay after changes", given: []Event{placed, OrderLineAdded{SKU: "A", Quantity: 1, UnitPrice: 500}, OrderLineRemoved{SKU: "B"}},
			cmd: Pay{Amount: 1500, PaymentRef: "p"}, want: []Event{OrderPaid{Amount: 1500, PaymentRef: "p", PaidAt: now}}},
		{name: "pay free order", given: []Event{OrderPlaced{OrderID: "o", CustomerID: "c", Currency: "EUR", Lines: []Line{{SKU: "FREE", Quantity: 1}}}},
			cmd: Pay{Amount: 0, PaymentRef: "p"}, want: []Event{OrderPaid{PaymentRef: "p", PaidAt: now}}},
		{name: "ship placed", given: placedGiven, cmd: validShip, wantErr: ErrNotAllowed},
		{name: "cancel placed", given: placedGiven, cmd: Cancel{Reason: "oops"},
			want: []Event{OrderCancelled{Reason: "oops", RefundedAmount: 0, CancelledAt: now}}},
		{name: "cancel placed without reason", given: placedGiven, cmd: Cancel{},
			want: []Event{OrderCancelled{CancelledAt: now}}},

		// From paid.
		{name: "place paid", given: paidGiven, cmd: validPlace, wantErr: ErrOrderExists},
		{name: "add line paid", given: paidGiven, cmd: AddLine{SKU: "C", Quantity: 1, UnitPrice: 1}, wantErr: ErrNotAllowed},
		{name: "remove line paid", given: paidGiven, cmd: RemoveLine{SKU: "A"}, wantErr: ErrNotAllowed},
		{name: "pay paid", given: paidGiven, cmd: validPay, wantErr: ErrNotAllowed},
		{name: "ship paid", given: paidGiven, cmd: validShip,
			want: []Event{OrderShipped{Carrier: "DHL", Tracking: "JD0001", ShippedAt: now}}},
		{name: "cancel paid refunds", given: paidGiven, cmd: Cancel{Reason: "late"},
			want: []Event{OrderCancelled{Reason: "late", RefundedAmount: 2000, CancelledAt: now}}},

		// From shipped.
		{name: "place shipped", given: shippedGiven, cmd: validPlace, wantErr: ErrOrderExists},
		{name: "add line shipped", given: shippedGiven, cmd: AddLine{SKU: "C", Quantity: 1, UnitPrice: 1}, wantErr: ErrNotAllowed},
		{name: "remove line shipped", given: shippedGiven, cmd: RemoveLine{SKU: "A"}, wantErr: ErrNotAllowed},
		{name: "pay shipped", given: shippedGiven, cmd: validPay, wantErr: ErrNotAllowed},
		{name: "ship shipped", given: shippedGiven, cmd: validShip, wantErr: ErrNotAllowed},
		{name: "cancel shipped", given: shippedGiven, cmd: Cancel{}, wantErr: ErrNotAllowed},

		// From cancelled (unpaid and refunded).
		{name: "place cancelled", given: cancelGiven, cmd: validPlace, wantErr: ErrOrderExists},
		{name: "add line cancelled", given: cancelGiven, cmd: AddLine{SKU: "C", Quantity: 1, UnitPrice: 1}, wantErr: ErrNotAllowed},
		{name: "remove line cancelled", given: cancelGiven, cmd: RemoveLine{SKU: "A"}, wantErr: ErrNotAllowed},
		{name: "pay cancelled", given: cancelGiven, cmd: validPay, wantErr: ErrNotAllowed},
		{name: "ship cancelled", given: cancelGiven, cmd: validShip, wantErr: ErrNotAllowed},
		{name: "cancel cancelled", given: cancelGiven, cmd: Cancel{}, wantErr: ErrNotAllowed},
		{name: "pay refunded", given: refundedGiven, cmd: validPay, wantErr: ErrNotAllowed},
		{name: "ship refunded", given: refundedGiven, cmd: validShip, wantErr: ErrNotAllowed},
		{name: "cancel refunded", given: refundedGiven, cmd: Cancel{}, wantErr: ErrNotAllowed},

		// Not order commands.
		{name: "nil command", cmd: nil, wantErr: ErrInvalid, wantField: "command"},
		{name: "stock command", given: placedGiven, cmd: ReceiveStock{SKU: "A", Quantity: 1}, wantErr: ErrInvalid, wantField: "command"},
		{name: "pointer command", given: placedGiven, cmd: &Pay{Amount: 2000, PaymentRef: "p"}, wantErr: ErrInvalid, wantField: "command"},
	})
}

func TestDecide_Validation(t *testing.T) {
	t.Parallel()
	lines := func(n int, l Line) []Line {
		out := make([]Line, n)
		for i := range out {
			out[i] = l
			out[i].SKU = fmt.Sprintf("SKU-%d", i)
		}
		return out
	}
	place := func(edit func(*PlaceOrder)) PlaceOrder {
		c := PlaceOrder{ID: "o-1", CustomerID: "c-1", Currency: "EUR", Lines: []Line{{SKU: "A", Quantity: 1, UnitPrice: 100}}}
		edit(&c)
		return c
	}
	maxLine := Line{Quantity: MaxQuantity, UnitPrice: MaxUnitPrice}
	// 92 maximal lines fit in an int64 (9.2e18); a 93rd does not.
	bigGiven := []Event{OrderPlaced{OrderID: "o", CustomerID: "c", Currency: "EUR", Lines: lines(92, maxLine)}}
	id64 := strings.Repeat("x", 64)

	runDecide(t, []decideCase{
		// PlaceOrder.
		{name: "place id empty", cmd: place(func(c *PlaceOrder) { c.ID = "" }), wantErr: ErrInvalid, wantField: "id"},
		{name: "place id too long", cmd: place(func(c *PlaceOrder) { c.ID = id64 + "x" }), wantErr: ErrInvalid, wantField: "id"},
		{name: "place id bad char", cmd: place(func(c *PlaceOrder) { c.ID = "o/1" }), wantErr: ErrInvalid, wantField: "id"},
		{name: "place id leading dot", cmd: place(func(c *PlaceOrder) { c.ID = ".o" }), wantErr: ErrInvalid, wantField: "id"},
		{name: "place id 64 chars", cmd: place(func(c *PlaceOrder) { c.ID = id64 }), want: []Event{OrderPlaced{
			OrderID: id64, CustomerID: "c-1", Currency: "EUR", Lines: []Line{{SKU: "A", Quantity: 1, UnitPrice: 100}}, PlacedAt: now}}},
		{name: "place customer empty", cmd: place(func(c *PlaceOrder) { c.CustomerID = "" }), wantErr: ErrInvalid, wantField: "customer_id"},
		{name: "place customer bad", cmd: place(func(c *PlaceOrder) { c.CustomerID = "c 1" }), wantErr: ErrInvalid, wantField: "customer_id"},
		{name: "place currency empty", cmd: place(func(c *PlaceOrder) { c.Currency = "" }), wantErr: ErrInvalid, wantField: "currency"},
		{name: "place currency lower", cmd: place(func(c *PlaceOrder) { c.Currency = "eur" }), wantErr: ErrInvalid, wantField: "currency"},
		{name: "place currency unknown", cmd: place(func(c *PlaceOrder) { c.Currency = "XYZ" }), wantErr: ErrInvalid, wantField: "currency"},
		{name: "place no lines", cmd: place(func(c *PlaceOrder) { c.Lines = nil }), wantErr: ErrInvalid, wantField: "lines"},
		{name: "place too many lines", cmd: place(func(c *PlaceOrder) { c.Lines = lines(MaxLines+1, Line{Quantity: 1}) }), wantErr: ErrInvalid, wantField: "lines"},
		{name: "place max lines", cmd: place(func(c *PlaceOrder) { c.Lines = lines(MaxLines, Line{Quantity: 1}) }), want: []Event{OrderPlaced{
			OrderID: "o-1", CustomerID: "c-1", Currency: "EUR", Lines: lines(MaxLines, Line{Quantity: 1}), PlacedAt: now}}},
		{name: "place bad sku", cmd: place(func(c *PlaceOrder) { c.Lines[0].SKU = "" }), wantErr: ErrInvalid, wantField: "lines[0].sku"},
		{name: "place zero quantity", cmd: place(func(c *PlaceOrder) { c.Lines[0].Quantity = 0 }), wantErr: ErrInvalid, wantField: "lines[0].quantity"},
		{name: "place negative quantity", cmd: place(func(c *PlaceOrder) { c.Lines[0].Quantity = -1 }), wantErr: ErrInvalid, wantField: "lines[0].quantity"},
		{name: "place quantity too large", cmd: place(func(c *PlaceOrder) { c.Lines[0].Quantity = MaxQuantity + 1 }), wantErr: ErrInvalid, wantField: "lines[0].quantity"},
		{name: "place negative price", cmd: place(func(c *PlaceOrder) { c.Lines[0].UnitPrice = -1 }), wantErr: ErrInvalid, wantField: "lines[0].unit_price"},
		{name: "place price too large", cmd: place(func(c *PlaceOrder) { c.Lines[0].UnitPrice = MaxUnitPrice + 1 }), wantErr: ErrInvalid, wantField: "lines[0].unit_price"},
		{name: "place duplicate sku", cmd: place(func(c *PlaceOrder) {
			c.Lines = []Line{{SKU: "A", Quantity: 1}, {SKU: "B", Quantity: 1}, {SKU: "A", Quantity: 1}}
		}), wantErr: ErrInvalid, wantField: "lines[2].sku"},
		{name: "place max values", cmd: place(func(c *PlaceOrder) { c.Lines = lines(92, maxLine) }), want: []Event{OrderPlaced{
			OrderID: "o-1", CustomerID: "c-1", Currency: "EUR", Lines: lines(92, maxLine), PlacedAt: now}}},
		{name: "place total overflow", cmd: place(func(c *PlaceOrder) { c.Lines = lines(93, maxLine) }), wantErr: ErrInvalid, wantField: "lines"},
		{name: "place invalid on existing order", given: placedGiven, cmd: place(func(c *PlaceOrder) { c.Currency = "" }), wantErr: ErrInvalid, wantField: "currency"},

		// AddLine.
		{name: "add bad sku", given: placedGiven, cmd: AddLine{SKU: "a b", Quantity: 1}, wantErr: ErrInvalid, wantField: "sku"},
		{name: "add zero quantity", given: placedGiven, cmd: AddLine{SKU: "C", Quantity: 0}, wantErr: ErrInvalid, wantField: "quantity"},
		{name: "add quantity too large", given: placedGiven, cmd: AddLine{SKU: "C", Quantity: MaxQuantity + 1}, wantErr: ErrInvalid, wantField: "quantity"},
		{name: "add negative price", given: placedGiven, cmd: AddLine{SKU: "C", Quantity: 1, UnitPrice: -5}, wantErr: ErrInvalid, wantField: "unit_price"},
		{name: "add price too large", given: placedGiven, cmd: AddLine{SKU: "C", Quantity: 1, UnitPrice: MaxUnitPrice + 1}, wantErr: ErrInvalid, wantField: "unit_price"},
		{name: "add invalid on missing order", cmd: AddLine{SKU: "C"}, wantErr: ErrInvalid, wantField: "quantity"},
		{name: "add invalid on paid order", given: paidGiven, cmd: AddLine{SKU: "C"}, wantErr: ErrInvalid, wantField: "quantity"},
		{name: "add existing sku other price", given: placedGiven, cmd: AddLine{SKU: "A", Quantity: 1, UnitPrice: 499}, wantErr: ErrInvalid, wantField: "unit_price"},
		{name: "add existing sku beyond max quantity", given: placedGiven, cmd: AddLine{SKU: "A", Quantity: MaxQuantity - 1, UnitPrice: 500}, wantErr: ErrInvalid, wantField: "quantity"},
		{name: "add existing sku up to max quantity", given: placedGiven, cmd: AddLine{SKU: "A", Quantity: MaxQuantity - 2, UnitPrice: 500},
			want: []Event{OrderLineAdded{SKU: "A", Quantity: MaxQuantity - 2, UnitPrice: 500}}},
		{name: "add line beyond max lines", given: []Event{OrderPlaced{OrderID: "o", CustomerID: "c", Currency: "EUR", Lines: lines(MaxLines, Line{Quantity: 1})}},
			cmd: AddLine{SKU: "NEW", Quantity: 1}, wantErr: ErrInvalid, wantField: "lines"},
		{name: "add existing sku at max lines", given: []Event{OrderPlaced{OrderID: "o", CustomerID: "c", Currency: "EUR", Lines: lines(MaxLines, Line{Quantity: 1})}},
			cmd: AddLine{SKU: "SKU-0", Quantity: 1}, want: []Event{OrderLineAdded{SKU: "SKU-0", Quantity: 1}}},
		{name: "add line overflowing total", given: bigGiven, cmd: AddLine{SKU: "NEW", Quantity: MaxQuantity, UnitPrice: MaxUnitPrice}, wantErr: ErrInvalid, wantField: "quantity"},
		{name: "add small line to big order", given: bigGiven, cmd: AddLine{SKU: "NEW", Quantity: 1, UnitPrice: 1},
			want: []Event{OrderLineAdded{SKU: "NEW", Quantity: 1, UnitPrice: 1}}},

		// RemoveLine.
		{name: "remove bad sku", given: placedGiven, cmd: RemoveLine{SKU: ""}, wantErr: ErrInvalid, wantField: "sku"},
		{name: "remove unknown sku", given: placedGiven, cmd: RemoveLine{SKU: "Z"}, wantErr: ErrInvalid, wantField: "sku"},
		{name: "remove removed sku", given: []Event{placed, OrderLineRemoved{SKU: "A"}}, cmd: RemoveLine{SKU: "A"}, wantErr: ErrInvalid, wantField: "sku"},

		// Pay.
		{name: "pay negative", given: placedGiven, cmd: Pay{Amount: -1, PaymentRef: "p"}, wantErr: ErrInvalid, wantField: "amount"},
		{name: "pay too little", given: placedGiven, cmd: Pay{Amount: 1999, PaymentRef: "p"}, wantErr: ErrInvalid, wantField: "amount"},
		{name: "pay too much", given: placedGiven, cmd: Pay{Amount: 2001, PaymentRef: "p"}, wantErr: ErrInvalid, wantField: "amount"},
		{name: "pay old total", given: []Event{placed, OrderLineRemoved{SKU: "B"}}, cmd: validPay, wantErr: ErrInvalid, wantField: "amount"},
		{name: "pay wrong amount on cancelled", given: cancelGiven, cmd: Pay{Amount: 1, PaymentRef: "p"}, wantErr: ErrNotAllowed},
		{name: "pay ref empty", given: placedGiven, cmd: Pay{Amount: 2000}, wantErr: ErrInvalid, wantField: "payment_ref"},
		{name: "pay ref blank", given: placedGiven, cmd: Pay{Amount: 2000, PaymentRef: "  "}, wantErr: ErrInvalid, wantField: "payment_ref"},
		{name: "pay ref too long", given: placedGiven, cmd: Pay{Amount: 2000, PaymentRef: strings.Repeat("p", MaxTextLength+1)}, wantErr: ErrInvalid, wantField: "payment_ref"},
		{name: "pay ref max length", given: placedGiven, cmd: Pay{Amount: 2000, PaymentRef: strings.Repeat("é", MaxTextLength)},
			want: []Event{OrderPaid{Amount: 2000, PaymentRef: strings.Repeat("é", MaxTextLength), PaidAt: now}}},
		{name: "pay ref bad utf-8", given: placedGiven, cmd: Pay{Amount: 2000, PaymentRef: "p\xff"}, wantErr: ErrInvalid, wantField: "payment_ref"},
		{name: "pay ref control char", given: placedGiven, cmd: Pay{Amount: 2000, PaymentRef: "p\n1"}, wantErr: ErrInvalid, wantField: "payment_ref"},
		{name: "pay invalid on missing order", cmd: Pay{Amount: 1}, wantErr: ErrInvalid, wantField: "payment_ref"},

		// Ship.
		{name: "ship carrier empty", given: paidGiven, cmd: Ship{Tracking: "t"}, wantErr: ErrInvalid, wantField: "carrier"},
		{name: "ship carrier too long", given: paidGiven, cmd: Ship{Carrier: strings.Repeat("c", MaxTextLength+1), Tracking: "t"}, wantErr: ErrInvalid, wantField: "carrier"},
		{name: "ship carrier control char", given: paidGiven, cmd: Ship{Carrier: "c\x00", Tracking: "t"}, wantErr: ErrInvalid, wantField: "carrier"},
		{name: "ship tracking empty", given: paidGiven, cmd: Ship{Carrier: "c"}, wantErr: ErrInvalid, wantField: "tracking"},
		{name: "ship tracking bad utf-8", given: paidGiven, cmd: Ship{Carrier: "c", Tracking: "\xc3"}, wantErr: ErrInvalid, wantField: "tracking"},
		{name: "ship tracking C1 control", given: paidGiven, cmd: Ship{Carrier: "c", Tracking: "t\u0085"}, wantErr: ErrInvalid, wantField: "tracking"},
		{name: "ship with spaces", given: paidGiven, cmd: Ship{Carrier: "La Poste", Tracking: "6A 123"},
			want: []Event{OrderShipped{Carrier: "La Poste", Tracking: "6A 123", ShippedAt: now}}},

		// Cancel.
		{name: "cancel reason max length", given: placedGiven, cmd: Cancel{Reason: strings.Repeat("é", MaxReasonLength)},
			want: []Event{OrderCancelled{Reason: strings.Repeat("é", MaxReasonLength), CancelledAt: now}}},
		{name: "cancel reason too long", given: placedGiven, cmd: Cancel{Reason: strings.Repeat("r", MaxReasonLength+1)}, wantErr: ErrInvalid, wantField: "reason"},
		{name: "cancel reason multiline", given: placedGiven, cmd: Cancel{Reason: "a\r\n\tb"},
			want: []Event{OrderCancelled{Reason: "a\r\n\tb", CancelledAt: now}}},
		{name: "cancel reason control char", given: placedGiven, cmd: Cancel{Reason: "a\x1b[31m"}, wantErr: ErrInvalid, wantField: "reason"},
		{name: "cancel reason bad utf-8", given: placedGiven, cmd: Cancel{Reason: "\xff"}, wantErr: ErrInvalid, wantField: "reason"},
	})
}

func TestDecide_StoresNowInUTC(t *testing.T) {
	t.Parallel()
	local := time.Date(2025, 3, 2, 14, 30, 0, 0, time.FixedZone("CEST", 2*3600))
	evs, err := Decide(Order{}, validPlace, local)
	if err != nil {
		t.Fatal(err)
	}
	at := evs[0].(OrderPlaced).PlacedAt
	if at.Location() != time.UTC || !at.Equal(local) {
		t.Errorf("PlacedAt = %v, want %v in UTC", at, local)
	}
}

func TestDecide_DoesNotAliasCommandLines(t *testing.T) {
	t.Parallel()
	c := PlaceOrder{ID: "o", CustomerID: "c", Currency: "EUR", Lines: []Line{{SKU: "A", Quantity: 1}}}
	evs, err := Decide(Order{}, c, now)
	if err != nil {
		t.Fatal(err)
	}
	c.Lines[0].Quantity = 99
	if q := evs[0].(OrderPlaced).Lines[0].Quantity; q != 1 {
		t.Errorf("event line quantity = %d after editing the command, want 1", q)
	}
}

func TestEvolve(t *testing.T) {
	t.Parallel()
	base := Order{
		ID: "o-1", CustomerID: "c-1", Status: StatusPlaced, Currency: "EUR",
		Lines:    []Line{{SKU: "A", Quantity: 2, UnitPrice: 500}, {SKU: "B", Quantity: 1, UnitPrice: 1000}},
		PlacedAt: t0,
	}
	with := func(edit func(*Order)) Order {
		o := base
		o.Lines = append([]Line(nil), base.Lines...)
		edit(&o)
		return o
	}
	tests := []struct {
		name   string
		events []Event
		want   Order
	}{
		{"none", nil, Order{}},
		{"placed", []Event{placed}, base},
		{"line added", []Event{placed, OrderLineAdded{SKU: "C", Quantity: 3, UnitPrice: 7}}, with(func(o *Order) {
			o.Lines = append(o.Lines, Line{SKU: "C", Quantity: 3, UnitPrice: 7})
		})},
		{"line merged", []Event{placed, OrderLineAdded{SKU: "B", Quantity: 4, UnitPrice: 1000}}, with(func(o *Order) {
			o.Lines[1].Quantity = 5
		})},
		{"line removed", []Event{placed, OrderLineRemoved{SKU: "A"}}, with(func(o *Order) {
			o.Lines = []Line{{SKU: "B", Quantity: 1, UnitPrice: 1000}}
		})},
		{"paid", paidGiven, with(func(o *Order) {
			o.Status, o.PaidAmount, o.PaymentRef, o.PaidAt = StatusPaid, 2000, "pay-1", paid.PaidAt
		})},
		{"shipped", shippedGiven, with(func(o *Order) {
			o.Status, o.PaidAmount, o.PaymentRef, o.PaidAt = StatusShipped, 2000, "pay-1", paid.PaidAt
			o.Carrier, o.Tracking, o.ShippedAt = "UPS", "1Z999", shipped.ShippedAt
		})},
		{"cancelled", cancelGiven, with(func(o *Order) {
			o.Status, o.CancelReason, o.CancelledAt = StatusCancelled, "changed my mind", cancelled.CancelledAt
		})},
		{"refunded", refundedGiven, with(func(o *Order) {
			o.Status, o.PaidAmount, o.PaymentRef, o.PaidAt = StatusCancelled, 2000, "pay-1", paid.PaidAt
			o.CancelReason, o.RefundedAmount, o.CancelledAt = "late", 2000, refunded.CancelledAt
		})},
		{"stock event ignored", []Event{placed, StockReceived{SKU: "A", Quantity: 5, ReceivedAt: now}}, base},
		{"times made UTC", []Event{OrderPlaced{OrderID: "o-1", CustomerID: "c-1", Currency: "EUR", Lines: base.Lines,
			PlacedAt: t0.In(time.FixedZone("X", -5*3600))}}, base},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := Fold(tc.events); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Fold:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestEvolve_DoesNotModifyItsInput(t *testing.T) {
	t.Parallel()
	lines := make([]Line, 2, 10) // spare capacity tempts an in-place append
	copy(lines, placed.Lines)
	o := Order{Status: StatusPlaced, Lines: lines}
	for _, e := range []Event{
		OrderLineAdded{SKU: "A", Quantity: 1, UnitPrice: 500},
		OrderLineAdded{SKU: "C", Quantity: 1},
		OrderLineRemoved{SKU: "A"},
	} {
		_ = Evolve(o, e)
		if !reflect.DeepEqual(lines[:cap(lines)][:3], []Line{placed.Lines[0], placed.Lines[1], {}}) {
			t.Fatalf("Evolve(%#v) modified the input lines: %v", e, lines[:3])
		}
	}
}

func TestOrder_TotalAndExists(t *testing.T) {
	t.Parallel()
	if o := (Order{}); o.Exists() || o.Total() != 0 {
		t.Errorf("zero Order: Exists = %v, Total = %d; want false, 0", o.Exists(), o.Total())
	}
	o := Fold([]Event{placed, OrderLineAdded{SKU: "C", Quantity: 3, UnitPrice: 7}})
	if !o.Exists() || o.Total() != 2021 {
		t.Errorf("Exists = %v, Total = %d; want true, 2021", o.Exists(), o.Total())
	}
}
