package domain

import "errors"

// Sentinel errors. Errors returned by this package match at most one of them
// under errors.Is.
var (
	// ErrInvalid is returned by Decide and DecideStock when a command holds
	// an invalid value, always as a *ValidationError.
	ErrInvalid = errors.New("invalid command")
	// ErrNotAllowed is returned by Decide when the command is not allowed in
	// the order's current state, always as a *StateError.
	ErrNotAllowed = errors.New("command not allowed")
	// ErrOrderNotFound is returned by Decide for any command but PlaceOrder
	// on an order that does not exist.
	ErrOrderNotFound = errors.New("order not found")
	// ErrOrderExists is returned by Decide for PlaceOrder on an order that
	// already exists.
	ErrOrderExists = errors.New("order already exists")
	// ErrUnknownEventType is returned by Decode for an event type it does not
	// know, and by Encode for an event that is not of this package.
	ErrUnknownEventType = errors.New("unknown event type")
	// ErrMalformedEvent is returned by Decode when a payload is not a JSON
	// object or a field has the wrong JSON type.
	ErrMalformedEvent = errors.New("malformed event payload")
)

// ValidationError tells which value of a command is invalid and why. It
// matches ErrInvalid.
type ValidationError struct {
	// Field is the JSON name of the value, e.g. "quantity" or "lines[2].sku".
	Field string
	// Reason says what is wrong, e.g. "must be between 1 and 1000000".
	Reason string
}

// Error returns "invalid <field>: <reason>".
func (e *ValidationError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

// Unwrap returns ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// StateError tells that a command is not allowed in an order's state. It
// matches ErrNotAllowed.
type StateError struct {
	// Status is the order's status when the command was refused.
	Status Status
	// Command is the refused command's CommandName, e.g. "pay".
	Command string
	// Reason is set when the status alone does not explain the refusal.
	Reason string
}

// Error returns a sentence such as "cannot pay an order that is cancelled".
func (e *StateError) Error() string {
	if e.Reason != "" {
		return "cannot " + commandPhrase(e.Command) + " the order: " + e.Reason
	}
	return "cannot " + commandPhrase(e.Command) + " an order that is " + string(e.Status)
}

// Unwrap returns ErrNotAllowed.
func (e *StateError) Unwrap() error { return ErrNotAllowed }

// commandPhrase returns the verb phrase for a command name, to go before
// "an order".
func commandPhrase(name string) string {
	switch name {
	case cmdPlaceOrder:
		return "place"
	case cmdAddLine:
		return "add a line to"
	case cmdRecordStockReserved:
		return "record the stock reservation of"
	case cmdExpirePayment:
		return "expire the payment of"
	case cmdRemoveLine:
		return "remove a line from"
	}
	return name
}
