package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/responses"
	"github.com/pb33f/libopenapi-validator/router"
	"github.com/pb33f/libopenapi/datamodel"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// Contract checks HTTP exchanges against the OpenAPI document the API
// serves (the embedded api/openapi.json; TestOpenAPI_Served checks that
// GET /openapi.json serves exactly it), with libopenapi-validator in strict
// mode: a status the operation does not document, a response header or a
// body field the document does not declare, a body that breaks its schema,
// or a route the document lacks fails the test that received the answer.
// HEAD is checked as the GET of its path (RFC 9110 §9.3.2), without a
// body, unless the document gives it an operation of its own.
// The tests' clients (env.do, the hostile and fuzz requests, the auth
// matrix) pass every exchange through Check, so each test validates what
// it receives without asking.
//
// Strict mode is the "no undocumented field" check: the response schemas
// stay open to clients (DESIGN §6: more fields may be added), so a client
// generated from the document keeps working when a field is added, while
// a field added without its documentation fails here.
type Contract struct {
	doc    *v3.Document
	router router.Router
	// strict validates requests and responses; lax only the body of the
	// operation whose body is not ours to describe (see laxOperation).
	strict, lax validator.Validator
	opts        []config.Option
	// codes are the problem codes the document lists; types the event
	// types whose data it describes.
	codes, types map[string]bool
}

// laxOperation is the operation whose response body is checked without
// strict mode: GET /openapi.json answers the document itself, which the
// document describes only as an object; TestOpenAPI_Served compares it with
// api/openapi.json byte for byte and TestOpenAPI_Valid validates it against
// the OpenAPI 3.1 schema.
const laxOperation = "getOpenAPI"

// eventData is the instance path strict mode does not check: an event's
// data is checked by the schema of its type (components.schemas.<type>Data,
// closed with additionalProperties: false: a payload is versioned by
// metadata.schema, not extended in place), and an event of a type the
// document does not describe fails eventTypes.
const eventData = "$.body.events[*].data.*"

// contractOnce builds the Contract once per test binary: building compiles
// every schema of the document, and the result is read-only.
var contractOnce = sync.OnceValues(func() (*Contract, error) { return NewContract(openAPI) })

// LoadContract returns the Contract of the served document, failing tb if
// the document does not build.
func LoadContract(tb testing.TB) *Contract {
	tb.Helper()
	c, err := contractOnce()
	if err != nil {
		tb.Fatalf("api/openapi.json: %v", err)
	}
	return c
}

// NewContract builds the Contract of the OpenAPI document spec.
func NewContract(spec []byte) (*Contract, error) {
	doc, err := libopenapi.NewDocumentWithConfiguration(spec, &datamodel.DocumentConfiguration{
		Logger: slog.New(slog.DiscardHandler), // its errors are returned
	})
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	// Security is the auth tests' subject (TestAuth_Matrix): the other
	// tests run the API without tokens, so requests are validated without
	// it.
	opts := []config.Option{
		config.WithFormatAssertions(),
		config.WithoutSecurityValidation(),
		// RFC 7034's nosniff on every problem is not part of any
		// operation's answer.
		config.WithStrictIgnoredHeadersExtra("X-Content-Type-Options"),
		config.WithStrictIgnorePaths(eventData),
	}
	strict := append(slices.Clip(opts), config.WithStrictMode())
	c := &Contract{
		doc:    &model.Model,
		router: router.NewRouter(&model.Model, router.WithPathOnlyMatching()),
		strict: validator.NewValidatorFromV3Model(&model.Model, strict...),
		lax:    validator.NewValidatorFromV3Model(&model.Model, opts...),
		opts:   strict,
	}
	c.strict.SetDocument(doc) // for ValidateDocument
	var raw struct {
		Components struct {
			Schemas struct {
				Event struct {
					AllOf []struct {
						If struct {
							Properties struct {
								Type struct {
									Const string `json:"const"`
								} `json:"type"`
							} `json:"properties"`
						} `json:"if"`
					} `json:"allOf"`
				} `json:"Event"`
				Problem struct {
					Properties struct {
						Code struct {
							Examples []string `json:"examples"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec, &raw); err != nil {
		return nil, fmt.Errorf("problem codes: %w", err)
	}
	c.codes = map[string]bool{}
	for _, code := range raw.Components.Schemas.Problem.Properties.Code.Examples {
		c.codes[code] = true
	}
	if len(c.codes) == 0 {
		return nil, errors.New("components.schemas.Problem.code lists no codes (examples)")
	}
	c.types = map[string]bool{}
	for _, t := range raw.Components.Schemas.Event.AllOf {
		c.types[t.If.Properties.Type.Const] = true
	}
	return c, nil
}

// Exchange is one request and the answer it got.
type Exchange struct {
	// Request is the request as sent, without its body.
	Request *http.Request
	// RequestBody is the body sent, nil for none.
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Check reports on tb (with Errorf, so that it may be called from any
// goroutine) every way x departs from the document.
func (c *Contract) Check(tb testing.TB, x Exchange) {
	tb.Helper()
	for _, v := range c.Violations(x) {
		tb.Errorf("%s", v)
	}
}

// Violations lists every way x departs from the document, each naming the
// operation, the status and where.
func (c *Contract) Violations(x Exchange) []string {
	return slices.Concat(c.exchange(x), c.problemCode(x), c.eventTypes(x))
}

// eventTypes checks that the events of an answer are of the types the
// document describes (the Event schema's if/then per type): the data of
// another type would go unchecked.
func (c *Contract) eventTypes(x Exchange) []string {
	if x.Header.Get("Content-Type") != "application/json" {
		return nil
	}
	var page struct {
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	if err := json.Unmarshal(x.Body, &page); err != nil {
		return nil
	}
	var out []string
	for i, ev := range page.Events {
		if !c.types[ev.Type] {
			out = append(out, fmt.Sprintf("%s %s → %d: $.body.events[%d].type: event type %q has no data schema in the Event schema's allOf",
				x.Request.Method, x.Request.URL.EscapedPath(), x.Status, i, ev.Type))
		}
	}
	return out
}

// problemCode checks that a problem's code is one the document lists
// (Problem.code's examples): the list stays open to clients, as a closed
// enum would not be, yet a new code cannot go undocumented.
func (c *Contract) problemCode(x Exchange) []string {
	if x.Header.Get("Content-Type") != "application/problem+json" {
		return nil
	}
	var p struct {
		Code *string `json:"code"`
	}
	if err := json.Unmarshal(x.Body, &p); err != nil || p.Code == nil || c.codes[*p.Code] {
		return nil // a body that is no problem fails its schema
	}
	return []string{fmt.Sprintf("%s %s → %d: problem code %q is not among the codes of components.schemas.Problem.code",
		x.Request.Method, x.Request.URL.EscapedPath(), x.Status, *p.Code)}
}

// exchange checks the status, headers and body of x, and its request.
func (c *Contract) exchange(x Exchange) []string {
	req := x.request()
	res := x.response(req)
	route, err := c.router.FindRoute(req)
	switch {
	case err == nil:
	case errors.Is(err, router.ErrMethodNotAllowed):
		// A documented path with a method it does not have.
		return c.undocumented(x, req, res, http.StatusMethodNotAllowed, "MethodNotAllowed")
	case errors.Is(err, router.ErrAmbiguousPath):
		// A path that names another operation once its escapes are
		// decoded (/orders/a%2Flines): the API reads the path as sent, and
		// must refuse it.
		return c.refused(x, req, res)
	default:
		return c.undocumented(x, req, res, http.StatusNotFound, "NotFound")
	}

	op := fmt.Sprintf("%s %s (%s)", req.Method, route.Path, route.Operation.OperationId)
	var out []string
	report := func(what string, errs []*liberrors.ValidationError) {
		for _, e := range errs {
			out = append(out, fmt.Sprintf("%s → %d: %s: %s", op, x.Status, what, describe(e)))
		}
	}
	if ok, errs := c.strict.ValidateHttpRequestSyncWithPathItem(x.request(), route.PathItem, route.Path); !ok && x.Status < 400 {
		// The document refuses what the server took: the server is looser
		// than its contract says (an unknown query parameter, a value out
		// of range…), or the document is stricter than the server.
		report("the document refuses this request, the API accepted it", errs)
	}
	v := c.strict
	if route.Operation.OperationId == laxOperation {
		v = c.lax
	}
	if ok, errs := v.ValidateHttpResponse(req, res); !ok {
		report("response", errs)
	}
	return out
}

// undocumented checks the answer to a request that no operation of the
// document takes: it must be status, as the response component names.
func (c *Contract) undocumented(x Exchange, req *http.Request, res *http.Response, status int, component string) []string {
	op := req.Method + " " + req.URL.EscapedPath() + " (no operation)"
	if x.Status != status {
		return []string{fmt.Sprintf("%s → %d: an undocumented route answered; the document has no such operation, so the API must answer %d",
			op, x.Status, status)}
	}
	return c.component(op, x, req, res, component)
}

// refused checks the answer to an ambiguous path: any 4xx problem.
func (c *Contract) refused(x Exchange, req *http.Request, res *http.Response) []string {
	op := req.Method + " " + req.URL.EscapedPath() + " (ambiguous path)"
	if x.Status < 400 || x.Status >= 500 {
		return []string{fmt.Sprintf("%s → %d: a path that reads as another operation once decoded must be refused with a 4xx problem", op, x.Status)}
	}
	return c.component(op, x, req, res, "BadRequest")
}

// component validates the headers and body of res against the response
// component named (its headers; the body against the Problem schema).
func (c *Contract) component(op string, x Exchange, req *http.Request, res *http.Response, name string) []string {
	resp := c.doc.Components.Responses.GetOrZero(name)
	if resp == nil {
		return []string{fmt.Sprintf("%s: components.responses.%s is missing", op, name)}
	}
	var out []string
	if ok, errs := responses.ValidateResponseHeaders(req, res, resp.Headers, req.URL.Path, fmt.Sprint(x.Status), c.opts...); !ok {
		for _, e := range errs {
			out = append(out, fmt.Sprintf("%s → %d: response: %s", op, x.Status, describe(e)))
		}
	}
	mt := resp.Content.GetOrZero("application/problem+json")
	if ct := x.Header.Get("Content-Type"); ct != "application/problem+json" || mt == nil || mt.Schema == nil {
		return append(out, fmt.Sprintf("%s → %d: Content-Type %q, want application/problem+json as components.responses.%s says", op, x.Status, ct, name))
	}
	ok, errs := responses.ValidateResponseSchema(&responses.ValidateResponseSchemaInput{
		Request: req, Response: x.response(req), Schema: mt.Schema.Schema(), Version: 3.1, Options: c.opts,
	})
	if !ok {
		for _, e := range errs {
			out = append(out, fmt.Sprintf("%s → %d: response: %s", op, x.Status, describe(e)))
		}
	}
	return out
}

// describe says what a validation error found and where (a JSON path into
// the body, a header or a parameter).
func describe(e *liberrors.ValidationError) string {
	var b strings.Builder
	b.WriteString(e.Message)
	if e.Reason != "" && e.Reason != e.Message {
		b.WriteString(" (" + e.Reason + ")")
	}
	for _, f := range e.SchemaValidationErrors {
		at := f.FieldPath
		if at == "" {
			at = "$." + strings.Join(f.InstancePath, ".")
		}
		fmt.Fprintf(&b, "; at %s: %s", at, f.Reason)
	}
	return b.String()
}

// request rebuilds the request with its body, for the validator to read.
func (x Exchange) request() *http.Request {
	req := x.Request.Clone(x.Request.Context())
	req.Body, req.ContentLength = http.NoBody, 0
	if x.RequestBody != nil {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(x.RequestBody)), int64(len(x.RequestBody))
	}
	return req
}

// response rebuilds the answer, for the validator to read.
func (x Exchange) response(req *http.Request) *http.Response {
	res := &http.Response{StatusCode: x.Status, Header: x.Header, Request: req, Body: http.NoBody}
	if len(x.Body) > 0 {
		res.Body, res.ContentLength = io.NopCloser(bytes.NewReader(x.Body)), int64(len(x.Body))
	}
	return res
}

// TestContract_Catches checks the checker: each departure from the
// document that it exists to catch is reported, naming the operation, the
// status and where.
func TestContract_Catches(t *testing.T) {
	c := LoadContract(t)
	order := `{"id":"o-1","customer_id":"c","status":"placed","currency":"EUR",` +
		`"lines":[{"sku":"S","quantity":1,"unit_price":100}],"total":100,"version":0,` +
		`"placed_at":"2026-01-02T03:04:05Z","paid_at":null,"shipped_at":null,"cancelled_at":null,` +
		`"cancel_reason":"","paid_amount":0,"refunded_amount":0,"stock_reservation":"none","reject_reason":""}`
	orderHeader := func(extra ...string) http.Header {
		h := http.Header{"Content-Type": {"application/json"}, "X-Correlation-Id": {"c-1"}, "Etag": {`"0"`}}
		for i := 0; i+1 < len(extra); i += 2 {
			h.Set(extra[i], extra[i+1])
		}
		return h
	}
	problem := func(status int) []byte {
		return fmt.Appendf(nil, `{"type":"about:blank","title":"x","status":%d,"code":"x","correlation_id":"c-1"}`, status)
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}, "X-Correlation-Id": {"c-1"}}
	problemHeader := http.Header{"Content-Type": {"application/problem+json"}, "X-Correlation-Id": {"c-1"}}
	for _, tc := range []struct {
		name, method, target string
		status               int
		header               http.Header
		body                 string
		want                 []string // substrings of one violation; none for a conforming exchange
	}{
		{name: "conforming", method: "GET", target: "/orders/o-1", status: 200, header: orderHeader(), body: order},
		{name: "undocumented status", method: "GET", target: "/orders/o-1", status: 418, header: problemHeader, body: string(problem(418)),
			want: []string{"GET /orders/{id} (getOrder) → 418", "'418'"}},
		{name: "undocumented field", method: "GET", target: "/orders/o-1", status: 200, header: orderHeader(),
			body: strings.Replace(order, `"total":100`, `"total":100,"colour":"red"`, 1),
			want: []string{"GET /orders/{id} (getOrder) → 200", "$.body.colour"}},
		{name: "field of the wrong type", method: "GET", target: "/orders/o-1", status: 200, header: orderHeader(),
			body: strings.Replace(order, `"total":100`, `"total":"100"`, 1),
			want: []string{"(getOrder) → 200", "total"}},
		{name: "undocumented header", method: "GET", target: "/orders/o-1", status: 200, header: orderHeader("X-Secret", "1"), body: order,
			want: []string{"(getOrder) → 200", "X-Secret"}},
		{name: "undocumented route", method: "GET", target: "/nope", status: 200, header: orderHeader(), body: order,
			want: []string{"GET /nope (no operation) → 200", "must answer 404"}},
		{name: "undocumented method", method: "PUT", target: "/orders/o-1/payment", status: 200, header: orderHeader(), body: order,
			want: []string{"PUT /orders/o-1/payment (no operation) → 200", "must answer 405"}},
		{name: "unknown query parameter accepted", method: "GET", target: "/orders/o-1?verison=1", status: 200, header: orderHeader(), body: order,
			want: []string{"(getOrder) → 200", "the document refuses this request", "verison"}},
		{name: "undocumented problem code", method: "GET", target: "/orders/o-1", status: 404, header: problemHeader,
			body: strings.Replace(string(problem(404)), `"code":"x"`, `"code":"no_such_code"`, 1),
			want: []string{"GET /orders/o-1 → 404", `"no_such_code"`}},
		{name: "undocumented event field", method: "GET", target: "/orders/o-1/events", status: 200, header: jsonHeader,
			body: `{"events":[{"id":"6f1d3c52-8a0e-4b7e-9d51-2c4a7f0e9b13","position":1,"stream":"order-o-1","version":0,"type":"OrderLineRemoved","data":{"sku":"S"},"metadata":{},"recorded_at":"2026-01-02T03:04:05Z","colour":"red"}]}`,
			want: []string{"(getOrderEvents) → 200", "colour"}},
		{name: "undocumented event data field", method: "GET", target: "/orders/o-1/events", status: 200, header: jsonHeader,
			body: `{"events":[{"id":"6f1d3c52-8a0e-4b7e-9d51-2c4a7f0e9b13","position":1,"stream":"order-o-1","version":0,"type":"OrderLineRemoved","data":{"sku":"S","colour":"red"},"metadata":{},"recorded_at":"2026-01-02T03:04:05Z"}]}`,
			want: []string{"(getOrderEvents) → 200", "colour"}},
		{name: "undocumented event type", method: "GET", target: "/orders/o-1/events", status: 200, header: jsonHeader,
			body: `{"events":[{"id":"6f1d3c52-8a0e-4b7e-9d51-2c4a7f0e9b13","position":1,"stream":"order-o-1","version":0,"type":"OrderTeleported","data":{"to":"Mars"},"metadata":{},"recorded_at":"2026-01-02T03:04:05Z"}]}`,
			want: []string{"GET /orders/o-1/events → 200", "$.body.events[0].type", `"OrderTeleported"`}},
		{name: "HEAD with a body", method: "HEAD", target: "/orders/o-1", status: 200, header: orderHeader(), body: order,
			want: []string{"HEAD /orders/{id} (getOrder) → 200", "must not include a body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, nil)
			got := c.Violations(Exchange{Request: req, Status: tc.status, Header: tc.header, Body: []byte(tc.body)})
			if len(tc.want) == 0 {
				if len(got) > 0 {
					t.Fatalf("a conforming exchange has violations:\n%s", strings.Join(got, "\n"))
				}
				return
			}
			for _, v := range got {
				if slices.IndexFunc(tc.want, func(w string) bool { return !strings.Contains(v, w) }) < 0 {
					return
				}
			}
			t.Fatalf("no violation says all of %q; got:\n%s", tc.want, strings.Join(got, "\n"))
		})
	}
}
