package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/orderstore/orderstore/domain"
)

// tokenMembers is eachMember done with encoding/json's tokenizer: slow,
// but obviously right, so the byte walk is checked against it.
func tokenMembers(raw []byte) []string {
	type frame struct {
		object  int
		wantKey bool
	}
	var (
		stack   []frame
		objects int
		out     []string
	)
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].wantKey {
			if name, ok := tok.(string); ok {
				out = append(out, fmt.Sprint(stack[top].object, ":", name))
				stack[top].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			objects++
			stack = append(stack, frame{object: objects, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		if top := len(stack) - 1; top >= 0 && stack[top].object != 0 {
			stack[top].wantKey = true
		}
	}
}

// eachMemberSeeds are the inputs of TestEachMember and the seeds of
// FuzzEachMember.
var eachMemberSeeds = []string{
	`{}`, `[]`, `"x"`, `3`, `null`, `{"a":1}`,
	`{"customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":2,"unit_price":1250},{"sku":"T","quantity":1,"unit_price":9}]}`,
	` { "a" : [ { "b" : { } } , [ ] , "c,}" ] , "d" : "e\"}{,:" } `,
	`{"\u0041MOUNT":1,"a\"b":{"\\":[1,{"x\/y":true}]},"k\u212a":null}`,
	`{"a":{"a":{"a":[{"a":1},{"a":2}]}},"a":3}`,
	`[{"x":1},[{"y":[{"z":{}}]}],"{\"w\":1}"]`,
	`{"emoji 🙂":"é","":""}`,
}

// checkEachMember compares eachMember with tokenMembers on raw.
func checkEachMember(t *testing.T, raw []byte) {
	t.Helper()
	var got []string
	eachMember(raw, func(object int, name string) bool {
		got = append(got, fmt.Sprint(object, ":", name))
		return true
	})
	if want := tokenMembers(raw); !slices.Equal(got, want) {
		t.Errorf("%s\n got %q\nwant %q", raw, got, want)
	}
}

func TestEachMember(t *testing.T) {
	for _, raw := range eachMemberSeeds {
		if !json.Valid([]byte(raw)) {
			t.Fatalf("not valid JSON: %s", raw)
		}
		checkEachMember(t, []byte(raw))
	}
}

// FuzzEachMember checks the byte walk against the tokenizer on any valid
// JSON.
func FuzzEachMember(f *testing.F) {
	for _, raw := range eachMemberSeeds {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// decodeJSON refuses invalid UTF-8 before names are looked at.
		if json.Valid(raw) && utf8.Valid(raw) {
			checkEachMember(t, raw)
		}
	})
}

// commandKinds are the commands the API decodes from bodies.
var commandKinds = []func() domain.Command{
	func() domain.Command { return new(domain.PlaceOrder) },
	func() domain.Command { return new(domain.AddLine) },
	func() domain.Command { return new(domain.RemoveLine) },
	func() domain.Command { return new(domain.Pay) },
	func() domain.Command { return new(domain.Ship) },
	func() domain.Command { return new(domain.Cancel) },
	func() domain.Command { return new(domain.ReceiveStock) },
}

// checkDecodeCommand fails if the direct decoder accepts raw as a command
// of the given kind and the strict decoder does not decode raw to the same
// value. It reports whether the direct decoder accepted raw.
func checkDecodeCommand(t *testing.T, kind int, raw []byte) bool {
	t.Helper()
	fast, slow := commandKinds[kind](), commandKinds[kind]()
	if !domain.DecodeCommand(raw, fast) {
		return false
	}
	if err := decodeStrict(raw, slow); err != nil {
		t.Fatalf("%T: the direct decoder took %q, the strict one refuses it: %v", fast, raw, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%T from %q: direct %+v, strict %+v", fast, raw, fast, slow)
	}
	return true
}

var decodeCommandSeeds = []string{
	`{"customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":1250}]}`,
	`{"id":"o-1","customer_id":"c","currency":"EUR","lines":[]}`,
	`{"customer_id":"c","lines":null}`,
	` { "sku" : "S" , "quantity" : -3 , "unit_price" : 0 } `,
	`{"amount":9223372036854775807,"payment_ref":"p"}`,
	`{"amount":-9223372036854775808}`,
	`{"carrier":"c","tracking":"t"}`, `{"reason":"r"}`, `{"sku":"S","quantity":3}`, `{}`,
	// Each of these takes the strict decoder, for an error or for a shape
	// the direct one leaves to it.
	`{"customer_id":"c","customer_id":"d"}`, `{"CUSTOMER_ID":"c"}`, `{"sku":null}`,
	`{"quantity":1.0}`, `{"quantity":01}`, `{"quantity":"1"}`, `{"sku":"\u00e9"}`, `{"sku":"é"}`,
	`{"amount":9223372036854775808}`, `{"reason":"r"} x`, `{"lines":[{"sku":"S","sku":"T"}]}`,
	`null`, ``, `[]`, `{"nope":1}`,
}

// FuzzDecodeCommand checks the direct decoder against the strict one: a
// body it accepts decodes to what encoding/json, with the API's checks,
// makes of it.
func FuzzDecodeCommand(f *testing.F) {
	for _, raw := range decodeCommandSeeds {
		for kind := range commandKinds {
			f.Add(uint8(kind), []byte(raw))
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, raw []byte) {
		checkDecodeCommand(t, int(kind)%len(commandKinds), raw)
	})
}

// TestDecodeJSON_DirectAndStrict checks that the plain bodies take the
// direct decoder and the others the strict one, which answers as before.
func TestDecodeJSON_DirectAndStrict(t *testing.T) {
	direct := map[string][]int{ // seed → the kinds that take it directly
		decodeCommandSeeds[0]: {0}, decodeCommandSeeds[1]: {0}, decodeCommandSeeds[2]: {0},
		decodeCommandSeeds[3]: {1}, decodeCommandSeeds[4]: {3}, decodeCommandSeeds[5]: {3},
		decodeCommandSeeds[6]: {4}, decodeCommandSeeds[7]: {5}, decodeCommandSeeds[8]: {1, 6},
		"{}": {0, 1, 2, 3, 4, 5, 6}, // the decoders leave required members to the domain
	}
	for _, raw := range decodeCommandSeeds {
		for kind := range commandKinds {
			want := slices.Contains(direct[raw], kind)
			if got := checkDecodeCommand(t, kind, []byte(raw)); got != want {
				t.Errorf("%T from %q: direct = %v, want %v", commandKinds[kind](), raw, got, want)
			}
		}
	}
	// A body the direct decoder gives up on half way decodes from zero.
	var cmd domain.PlaceOrder
	if err := decodeJSON([]byte(`{"customer_id":"c","currency":"EUR","lines":[{"sku":"S","quantity":1,"unit_price":1}],"id":"\u006f"}`), &cmd); err != nil || cmd.ID != "o" || cmd.CustomerID != "c" || len(cmd.Lines) != 1 {
		t.Errorf("escaped id: %+v, %v", cmd, err)
	}
	var pay domain.Pay
	err := decodeJSON([]byte(`{"amount":5,"AMOUNT":6}`), &pay)
	var re *requestError
	if !errors.As(err, &re) || re.status != http.StatusBadRequest {
		t.Errorf("a case-folded repeat: %v, want a 400", err)
	}
}
