package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"unicode/utf8"
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
