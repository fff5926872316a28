package domain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on command values, for the API and its documentation.
const (
	// MaxIDLength is the maximum length of an order ID, customer ID or SKU.
	MaxIDLength = 64
	// IDPattern is the regular expression an order ID, customer ID or SKU
	// matches: ValidID implements it.
	IDPattern = `^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`
	// MinQuantity and MaxQuantity bound a line's quantity and a stock receipt.
	MinQuantity = 1
	MaxQuantity = 1_000_000
	// MaxUnitPrice bounds a line's unit price, in minor units; the minimum is 0.
	MaxUnitPrice = 100_000_000_000
	// MaxLines is the maximum number of lines of an order.
	MaxLines = 100
	// MaxTextLength is the maximum length, in characters, of a payment
	// reference, a carrier and a tracking number.
	MaxTextLength = 128
	// MaxReasonLength is the maximum length, in characters, of a
	// cancellation reason.
	MaxReasonLength = 500
)

// ValidID returns nil if s is a valid order ID, customer ID or SKU (see
// IDPattern), or else a *ValidationError for the field "id".
func ValidID(s string) error { return checkID("id", s) }

func invalid(field, reason string) error { return &ValidationError{Field: field, Reason: reason} }

func checkID(field, s string) error {
	switch {
	case s == "":
		return invalid(field, "is required")
	case len(s) > MaxIDLength:
		return invalid(field, fmt.Sprintf("must be at most %d characters", MaxIDLength))
	case s[0] == '.':
		return invalid(field, "must not start with '.'")
	}
	for i := range len(s) {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalid(field, "must contain only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

func checkQuantity(field string, q int64) error {
	if q < MinQuantity || q > MaxQuantity {
		return invalid(field, fmt.Sprintf("must be between %d and %d", MinQuantity, MaxQuantity))
	}
	return nil
}

func checkUnitPrice(field string, p int64) error {
	if p < 0 || p > MaxUnitPrice {
		return invalid(field, fmt.Sprintf("must be between 0 and %d", MaxUnitPrice))
	}
	return nil
}

// checkLine checks a line's values, naming the fields as a line's.
func checkLine(l Line) error {
	if err := checkID("sku", l.SKU); err != nil {
		return err
	}
	if err := checkQuantity("quantity", l.Quantity); err != nil {
		return err
	}
	return checkUnitPrice("unit_price", l.UnitPrice)
}

// checkLabel checks a required single-line text: a payment reference, a
// carrier or a tracking number.
func checkLabel(field, s string) error {
	if strings.TrimSpace(s) == "" {
		return invalid(field, "is required")
	}
	return checkText(field, s, MaxTextLength, func(rune) bool { return false })
}

// checkReason checks an optional cancellation reason, which may span lines.
func checkReason(s string) error {
	return checkText("reason", s, MaxReasonLength, func(r rune) bool { return r == '\n' || r == '\r' || r == '\t' })
}

func checkText(field, s string, maxLen int, allowControl func(rune) bool) error {
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	if utf8.RuneCountInString(s) > maxLen {
		return invalid(field, fmt.Sprintf("must be at most %d characters", maxLen))
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && !allowControl(r) }) >= 0 {
		return invalid(field, "must not contain control characters")
	}
	return nil
}
