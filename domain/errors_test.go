package domain

import (
	"errors"
	"testing"
)

func TestStateError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		given []Event
		cmd   Command
		want  string
	}{
		{cancelGiven, validPay, "cannot pay an order that is cancelled"},
		{placedGiven, validShip, "cannot ship an order that is placed"},
		{shippedGiven, Cancel{}, "cannot cancel an order that is shipped"},
		{paidGiven, AddLine{SKU: "C", Quantity: 1}, "cannot add a line to an order that is paid"},
		{paidGiven, RemoveLine{SKU: "A"}, "cannot remove a line from an order that is paid"},
		{[]Event{placedOneLine}, RemoveLine{SKU: "A"}, "cannot remove a line from the order: it is the only line; cancel the order instead"},
	}
	for _, tc := range tests {
		_, err := Decide(Fold(tc.given), tc.cmd, now)
		se, ok := errors.AsType[*StateError](err)
		if !ok {
			t.Errorf("%s: error = %v, want a *StateError", tc.cmd.CommandName(), err)
			continue
		}
		if got := err.Error(); got != tc.want {
			t.Errorf("%s: error = %q, want %q", tc.cmd.CommandName(), got, tc.want)
		}
		if o := Fold(tc.given); se.Status != o.Status || se.Command != tc.cmd.CommandName() {
			t.Errorf("StateError = %+v, want status %q and command %q", se, o.Status, tc.cmd.CommandName())
		}
		if errors.Is(err, ErrInvalid) {
			t.Errorf("%v matches ErrInvalid", err)
		}
	}
}

func TestValidationError(t *testing.T) {
	t.Parallel()
	_, err := Decide(Fold(placedGiven), Pay{Amount: 1, PaymentRef: "p"}, now)
	if want := "invalid amount: must equal the order total 2000"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotAllowed) {
		t.Errorf("%v: want it to match ErrInvalid only", err)
	}
}

func TestCommandNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cmd  Command
		want string
	}{
		{PlaceOrder{}, "place_order"}, {AddLine{}, "add_line"}, {RemoveLine{}, "remove_line"},
		{Pay{}, "pay"}, {Ship{}, "ship"}, {Cancel{}, "cancel"}, {ReceiveStock{}, "receive_stock"},
	}
	for _, tc := range tests {
		if got := tc.cmd.CommandName(); got != tc.want {
			t.Errorf("%T.CommandName() = %q, want %q", tc.cmd, got, tc.want)
		}
	}
}
