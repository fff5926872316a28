package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/orderstore/orderstore/domain"
)

// body is a request body read in full.
type body struct {
	raw []byte
}

// readBody reads the body (bounded) after checking its content type.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (body, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			return body{}, &requestError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
				detail: "the request body must be JSON (Content-Type: application/json), not " + ct}
		}
	}
	raw, err := readAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), r.ContentLength, s.cfg.MaxBodyBytes)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return body{}, err
		}
		return body{}, badRequest("unreadable_body", "could not read the request body: "+err.Error())
	}
	if r.Header.Get("Content-Type") == "" && len(bytes.TrimSpace(raw)) > 0 {
		return body{}, &requestError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type",
			detail: "the request has a body but no Content-Type; send it as JSON with Content-Type: application/json"}
	}
	return body{raw: raw}, nil
}

// readAll reads r to its end into a buffer sized for the body's declared
// length when it has one within limit, so that a body is read in one
// allocation rather than grown to.
func readAll(r io.Reader, length, limit int64) ([]byte, error) {
	if length <= 0 || length > limit {
		return io.ReadAll(r)
	}
	b := bytes.NewBuffer(make([]byte, 0, length+bytes.MinRead))
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// fingerprint identifies a request's content for idempotency: method, path
// and body.
func fingerprint(r *http.Request, raw []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.Path)
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil))
}

// decodeJSON decodes one JSON object into v, strictly: unknown fields,
// wrong types, trailing data and invalid UTF-8 are 400s.
//
// Commands in the plain shape most clients send take domain.DecodeCommand,
// which gives the same value without encoding/json's two passes and
// reflection; anything else, valid or not, takes encoding/json, from a
// zero value again.
func decodeJSON(raw []byte, v any) error {
	if cmd, ok := v.(domain.Command); ok {
		if domain.DecodeCommand(raw, cmd) {
			return nil
		}
		reflect.ValueOf(v).Elem().SetZero()
	}
	return decodeStrict(raw, v)
}

// decodeStrict is decodeJSON through encoding/json alone.
func decodeStrict(raw []byte, v any) error {
	switch trimmed := bytes.TrimSpace(raw); {
	case len(trimmed) == 0:
		return badRequest("malformed_json", "the request body is empty; a JSON object is required")
	case string(trimmed) == "null":
		// encoding/json would decode null into v as a no-op: {} in effect.
		return badRequest("malformed_json", "the request body is null; a JSON object is required")
	}
	if !utf8.Valid(raw) {
		return badRequest("malformed_json", "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var (
			se *json.SyntaxError
			te *json.UnmarshalTypeError
		)
		switch {
		case errors.As(err, &se):
			return badRequest("malformed_json", fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error()))
		case errors.As(err, &te):
			field := te.Field
			if field == "" {
				return badRequest("malformed_json", "the request body must be a JSON object, not "+te.Value)
			}
			return &requestError{status: http.StatusBadRequest, code: "wrong_type", field: field,
				detail: fmt.Sprintf("field %q must be %s, not %s", field, jsonKind(te.Type.Kind().String()), te.Value)}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("malformed_json", "the JSON body ends too early")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.TrimPrefix(err.Error(), "json: unknown field ")
			field := strings.Trim(name, `"`)
			return &requestError{status: http.StatusBadRequest, code: "unknown_field", field: field,
				detail: "unknown field " + name + suggestion(field, slices.Sorted(maps.Values(fieldNames(reflect.TypeOf(v)))))}
		}
		return badRequest("malformed_json", "malformed JSON: "+err.Error())
	}
	if dec.More() {
		return badRequest("malformed_json", "unexpected data after the JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("malformed_json", "unexpected data after the JSON object")
	}
	return checkNames(raw, v)
}

// checkNames refuses two kinds of member names in raw, which has decoded
// into v with unknown fields disallowed, so that every reader of a body
// agrees on what it says:
//
//   - a name repeated within one object: encoding/json keeps the last of
//     repeated members, other parsers the first;
//   - a name that encoding/json matched to a field of v only because it
//     matches names case-insensitively ("AMOUNT" for "amount"): other
//     parsers would ignore it.
func checkNames(raw []byte, v any) error {
	type member struct {
		object int
		key    string
	}
	known := fieldNames(reflect.TypeOf(v))
	seen := map[member]struct{}{}
	var problem error
	eachMember(raw, func(object int, name string) bool {
		m := member{object, foldName(name)}
		if _, dup := seen[m]; dup {
			problem = &requestError{status: http.StatusBadRequest, code: "malformed_json", field: name,
				detail: fmt.Sprintf("member %q appears twice in one object", name)}
			return false
		}
		seen[m] = struct{}{}
		if field := known[m.key]; field != "" && field != name {
			problem = &requestError{status: http.StatusBadRequest, code: "unknown_field", field: name,
				detail: fmt.Sprintf("unknown field %q: field names are case-sensitive (did you mean %q?)", name, field)}
			return false
		}
		return true
	})
	return problem
}

// fieldTypes caches fieldNames.
var fieldTypes sync.Map // reflect.Type → map[string]string

// fieldNames maps the folded JSON name of every field of t, and of the
// types it holds, to the name itself, or to "" if fields of two of them
// fold alike (then the check is left to encoding/json). Request types hold
// no maps, so every member name of a body is a field name.
func fieldNames(t reflect.Type) map[string]string {
	if names, ok := fieldTypes.Load(t); ok {
		return names.(map[string]string)
	}
	names := map[string]string{}
	visited := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if visited[t] {
			return
		}
		visited[t] = true
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(t.Elem())
		case reflect.Struct:
			for f := range t.Fields() {
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if !f.IsExported() || name == "-" {
					continue
				}
				if name == "" {
					name = f.Name
				}
				key := foldName(name)
				if other, ok := names[key]; ok && other != name {
					name = ""
				}
				names[key] = name
				walk(f.Type)
			}
		}
	}
	walk(t)
	fieldTypes.Store(t, names)
	return names
}

// eachMember calls fn with each member name of raw, which must be valid
// JSON (it has been decoded before), in order, with a number identifying
// the object it belongs to, until fn returns false. It walks the bytes:
// encoding/json's Decoder.Token allocates per token, and this walk ran
// for every command (a third of the allocations of POST /orders).
func eachMember(raw []byte, fn func(object int, name string) bool) {
	type frame struct {
		object  int // 0 for an array
		wantKey bool
	}
	var (
		stack   []frame
		objects int
	)
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{':
			objects++
			stack = append(stack, frame{object: objects, wantKey: true})
		case '[':
			stack = append(stack, frame{})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if top := len(stack) - 1; stack[top].object != 0 {
				stack[top].wantKey = true
			}
		case '"':
			end, escaped := i+1, false
			for ; raw[end] != '"'; end++ {
				if raw[end] == '\\' {
					end++ // the escaped byte, '"' included
					escaped = true
				}
			}
			if top := len(stack) - 1; top >= 0 && stack[top].wantKey {
				name := string(raw[i+1 : end])
				if escaped {
					_ = json.Unmarshal(raw[i:end+1], &name) //nolint:errcheck // valid JSON
				}
				if !fn(stack[top].object, name) {
					return
				}
				stack[top].wantKey = false
			}
			i = end
		}
	}
}

// foldName maps a member name to a key shared by every name that
// encoding/json would match to the same field: each rune becomes the
// smallest of its case-folding orbit (so "K", "k" and the Kelvin sign meet).
func foldName(name string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, name)
}

// suggestion returns ` (did you mean "k"?)` for the name of known that
// name most likely misspells: one that differs only in case, else the
// closest within a few edits (one per five letters, plus one), else one
// that name begins; or "" when none is close. Unknown body fields and
// query parameters both use it.
func suggestion(name string, known []string) string {
	const maxName = 64 // longer names are no typos of ours
	if name == "" || len(name) > maxName {
		return ""
	}
	best, bestDist := "", 0
	for _, k := range known {
		switch {
		case k == "":
			continue
		case foldName(k) == foldName(name):
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
		d := editDistance(name, k)
		if d <= 1+len(k)/5 && (best == "" || d < bestDist) {
			best, bestDist = k, d
		}
	}
	if best == "" && len(name) >= 3 {
		for _, k := range known {
			if k != "" && strings.HasPrefix(k, name) {
				best = k
				break
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "int32", "uint64":
		return "an integer"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct":
		return "an object"
	}
	return "of another type"
}

// queryInt parses an optional integer query parameter within [lo, hi].
func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, &requestError{status: http.StatusBadRequest, code: "invalid_query", field: name,
			detail: fmt.Sprintf("query parameter %s must be an integer from %d to %d, not %q", name, lo, hi, v)}
	}
	return n, nil
}

// idempotencyKey reads the Idempotency-Key header: 1–255 visible ASCII.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get(headerIdempotencyKey)
	if key == "" {
		return "", nil
	}
	if len(key) > 255 || strings.IndexFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
		return "", &requestError{status: http.StatusBadRequest, code: "invalid_header", field: headerIdempotencyKey,
			detail: "Idempotency-Key must be 1 to 255 visible ASCII characters"}
	}
	return key, nil
}

// ifMatch reads If-Match as a version: `"3"` (our ETags) or `*`.
func ifMatch(r *http.Request) (*int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return nil, nil
	}
	unq, ok := strings.CutPrefix(v, `"`)
	if ok {
		unq, ok = strings.CutSuffix(unq, `"`)
	}
	n, err := strconv.ParseInt(unq, 10, 64)
	if !ok || err != nil || n < 0 {
		return nil, &requestError{status: http.StatusBadRequest, code: "invalid_header", field: "If-Match",
			detail: `If-Match must be an ETag of this API, e.g. "3", not ` + v}
	}
	return &n, nil
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }
