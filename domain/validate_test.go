package domain

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestValidID(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(IDPattern)
	tests := []struct {
		id string
		ok bool
	}{
		{"a", true}, {"order-1", true}, {"A.b_c-D.9", true}, {"_x", true}, {"-x", true}, {"x.", true},
		{strings.Repeat("z", MaxIDLength), true},
		{"", false}, {".x", false}, {".", false}, {"a b", false}, {"a/b", false}, {"a:b", false},
		{"é", false}, {"a\n", false}, {"a\x00", false}, {strings.Repeat("z", MaxIDLength+1), false},
	}
	for _, tc := range tests {
		err := ValidID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidID(%q) = %v, want ok %v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidID(%q) = %v, want ErrInvalid", tc.id, err)
		}
		if re.MatchString(tc.id) != tc.ok {
			t.Errorf("IDPattern match of %q = %v, want %v", tc.id, !tc.ok, tc.ok)
		}
	}
}

func TestValidCurrency(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"EUR", "USD", "JPY", "CHF", "XOF", "ZWG", "AED"} {
		if err := ValidCurrency(c); err != nil {
			t.Errorf("ValidCurrency(%q) = %v, want nil", c, err)
		}
	}
	for _, c := range []string{"", "eur", "Eur", "EU", "EURO", "XYZ", "XXX", "XAU", "HRK", "D A", "R A", "EUR "} {
		if err := ValidCurrency(c); !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidCurrency(%q) = %v, want ErrInvalid", c, err)
		}
	}
}

func TestCurrencies(t *testing.T) {
	t.Parallel()
	cs := Currencies()
	if len(cs) < 150 || !slices.IsSorted(cs) {
		t.Errorf("Currencies() has %d codes, sorted %v; want 150+, sorted", len(cs), slices.IsSorted(cs))
	}
	for i, c := range cs {
		if i > 0 && cs[i-1] == c {
			t.Errorf("duplicate currency %s", c)
		}
		if err := ValidCurrency(c); err != nil {
			t.Errorf("ValidCurrency(%q) = %v", c, err)
		}
	}
}
