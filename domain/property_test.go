package domain

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// legal lists the status each command may lead to from each status.
var legal = map[Status]map[string]Status{
	"":           {cmdPlaceOrder: StatusPlaced},
	StatusPlaced: {cmdAddLine: StatusPlaced, cmdRemoveLine: StatusPlaced, cmdPay: StatusPaid, cmdCancel: StatusCancelled},
	StatusPaid:   {cmdShip: StatusShipped, cmdCancel: StatusCancelled},
}

// TestDecide_Properties applies random command sequences through Decide and
// Evolve (and the codec, as a store would) and checks invariants after each
// accepted command.
func TestDecide_Properties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(2025, 3))
	accepted := map[string]int{}
	refusedByState := 0
	for seq := range 3000 {
		var (
			o       Order
			history []Event
			total   int64 // the total as the test, not the domain, computes it
			at      = t0
		)
		for step := range 30 {
			cmd := randomCommand(r, o)
			at = at.Add(time.Duration(r.IntN(3600)) * time.Second)
			where := fmt.Sprintf("sequence %d step %d, %#v on %+v", seq, step, cmd, o)

			before := Fold(history)
			evs, err := Decide(o, cmd, at)
			if !reflect.DeepEqual(o, before) {
				t.Fatalf("%s: Decide modified the state", where)
			}
			if err != nil {
				switch se, isState := errors.AsType[*StateError](err); {
				case len(evs) != 0:
					t.Fatalf("%s: events %v with error %v", where, evs, err)
				case isState && se.Status != o.Status:
					t.Fatalf("%s: %v reports status %q", where, err, se.Status)
				case isState:
					refusedByState++
				case !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrOrderNotFound) && !errors.Is(err, ErrOrderExists):
					t.Fatalf("%s: unexpected error %v", where, err)
				}
				// Only removing the last line is refused in a status that
				// allows the command.
				if _, ok := legal[o.Status][cmd.CommandName()]; ok && errors.Is(err, ErrNotAllowed) && len(o.Lines) != 1 {
					t.Fatalf("%s: refused in a status that allows it: %v", where, err)
				}
				continue
			}
			if len(evs) != 1 {
				t.Fatalf("%s: got %d events, want 1", where, len(evs))
			}
			e := roundTrip(t, evs[0])
			prev := o
			o = Evolve(o, e)
			history = append(history, e)
			accepted[cmd.CommandName()]++

			// Folding from scratch equals evolving step by step.
			if folded := Fold(history); !reflect.DeepEqual(folded, o) {
				t.Fatalf("%s: Fold = %+v, evolved %+v", where, folded, o)
			}
			// The status moved along the lifecycle.
			if to, ok := legal[prev.Status][cmd.CommandName()]; !ok || o.Status != to {
				t.Fatalf("%s: status %q → %q is not legal for %s", where, prev.Status, o.Status, cmd.CommandName())
			}
			// The total follows the lines the test saw added and removed.
			switch c := cmd.(type) {
			case PlaceOrder:
				total = 0
				for _, l := range c.Lines {
					total += l.Quantity * l.UnitPrice
				}
			case AddLine:
				total += c.Quantity * c.UnitPrice
			case RemoveLine:
				l := prev.Lines[lineIndex(prev.Lines, c.SKU)]
				total -= l.Quantity * l.UnitPrice
			case Pay:
				if o.PaidAmount != prev.Total() || c.Amount != prev.Total() {
					t.Fatalf("%s: paid %d for a total of %d", where, o.PaidAmount, prev.Total())
				}
			case Cancel:
				if want := map[Status]int64{StatusPlaced: 0, StatusPaid: prev.PaidAmount}[prev.Status]; o.RefundedAmount != want {
					t.Fatalf("%s: refunded %d, want %d", where, o.RefundedAmount, want)
				}
			}
			checkOrder(t, where, o, total)
			if et, ok := eventTime(e); ok && (!et.Equal(at) || et.Location() != time.UTC) {
				t.Fatalf("%s: event time %v, want %v in UTC", where, et, at)
			}
		}
	}
	t.Logf("accepted %v, refused by state %d", accepted, refusedByState)
	// The generator must reach every transition, or the checks prove little.
	for _, name := range []string{cmdPlaceOrder, cmdAddLine, cmdRemoveLine, cmdPay, cmdShip, cmdCancel} {
		if accepted[name] < 100 {
			t.Errorf("only %d %s commands accepted", accepted[name], name)
		}
	}
	if refusedByState < 100 {
		t.Errorf("only %d commands refused by state", refusedByState)
	}
}

// checkOrder checks the invariants of an existing order.
func checkOrder(t *testing.T, where string, o Order, total int64) {
	t.Helper()
	if len(o.Lines) == 0 || len(o.Lines) > MaxLines {
		t.Fatalf("%s: %d lines", where, len(o.Lines))
	}
	var sum int64
	for i, l := range o.Lines {
		if lineIndex(o.Lines[:i], l.SKU) >= 0 || checkLine(l) != nil {
			t.Fatalf("%s: bad or duplicate line %+v", where, l)
		}
		sum += l.Quantity * l.UnitPrice
	}
	if o.Total() != sum || sum != total {
		t.Fatalf("%s: Total() = %d, sum of lines %d, expected %d", where, o.Total(), sum, total)
	}
	switch o.Status {
	case StatusPlaced:
		if o.PaidAmount != 0 || !o.PaidAt.IsZero() {
			t.Fatalf("%s: placed order has a payment", where)
		}
	case StatusPaid, StatusShipped:
		if o.PaidAmount != o.Total() {
			t.Fatalf("%s: PaidAmount %d ≠ total %d", where, o.PaidAmount, o.Total())
		}
	case StatusCancelled:
		if o.RefundedAmount != o.PaidAmount || (o.PaidAmount != 0 && o.PaidAmount != o.Total()) {
			t.Fatalf("%s: refunded %d of %d paid, total %d", where, o.RefundedAmount, o.PaidAmount, o.Total())
		}
	default:
		t.Fatalf("%s: status %q", where, o.Status)
	}
}

func roundTrip(t *testing.T, e Event) Event {
	t.Helper()
	typ, data, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(typ, data)
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip of %#v: %#v, %v", e, got, err)
	}
	return got
}

// eventTime returns the time an event records, if it records one.
func eventTime(e Event) (time.Time, bool) {
	switch e := e.(type) {
	case OrderPlaced:
		return e.PlacedAt, true
	case OrderPaid:
		return e.PaidAt, true
	case OrderShipped:
		return e.ShippedAt, true
	case OrderCancelled:
		return e.CancelledAt, true
	}
	return time.Time{}, false
}

var skus = []string{"A", "B", "C", "D", "E", "F"}

// randomCommand returns a command for o, mostly a valid one.
func randomCommand(r *rand.Rand, o Order) Command {
	sku := func() string {
		if r.IntN(20) == 0 {
			return ".bad"
		}
		return skus[r.IntN(len(skus))]
	}
	quantity := func() int64 {
		switch r.IntN(20) {
		case 0:
			return 0
		case 1:
			return MaxQuantity + 1
		case 2:
			return MaxQuantity / 2
		}
		return 1 + r.Int64N(5)
	}
	// Prices are mostly a function of the SKU, so that adds often merge.
	price := func(sku string) int64 {
		if r.IntN(10) == 0 {
			return r.Int64N(10_000)
		}
		return int64(len(sku)) * 100 * int64(sku[0])
	}
	label := func() string {
		if r.IntN(15) == 0 {
			return ""
		}
		return fmt.Sprintf("x-%d", r.IntN(1000))
	}
	switch n := r.IntN(12); {
	case n < 2 || !o.Exists() && n < 6:
		c := PlaceOrder{ID: "o-1", CustomerID: "c-1", Currency: []string{"EUR", "USD", "JPY", "eur"}[r.IntN(4)]}
		for range r.IntN(4) + r.IntN(2) {
			s := sku()
			c.Lines = append(c.Lines, Line{SKU: s, Quantity: quantity(), UnitPrice: price(s)})
		}
		return c
	case n < 5:
		s := sku()
		return AddLine{SKU: s, Quantity: quantity(), UnitPrice: price(s)}
	case n < 7:
		if len(o.Lines) > 0 && r.IntN(4) > 0 {
			return RemoveLine{SKU: o.Lines[r.IntN(len(o.Lines))].SKU}
		}
		return RemoveLine{SKU: sku()}
	case n < 9:
		amount := o.Total()
		if r.IntN(5) == 0 {
			amount += r.Int64N(3) - 1
		}
		return Pay{Amount: amount, PaymentRef: label()}
	case n < 11:
		return Ship{Carrier: label(), Tracking: label()}
	}
	return Cancel{Reason: []string{"", "changed my mind", "\x00"}[r.IntN(3)]}
}
