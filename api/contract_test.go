package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/responses"
	"github.com/pb33f/libopenapi-validator/router"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// Contract checks HTTP exchanges against the OpenAPI document the API
// serves (the embedded api/openapi.json; TestOpenAPI_Served checks that
// GET /openapi.json serves exactly it), with libopenapi-validator in strict
// mode: a status the operation does not document, a response header or a
// body field the document does not declare, a body that breaks its schema,
// or a route the document lacks fails the test that received the answer.
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
	// strict validates requests and responses; lax only the body of
	// operations whose body is not ours to describe (see laxBody).
	strict, lax validator.Validator
	opts        []config.Option
}

// laxBody names the operations whose response body is checked without
// strict mode: GET /openapi.json answers the document itself, which the
// document describes only as an object; TestOpenAPI_Served compares it with
// api/openapi.json byte for byte and TestOpenAPI_Valid validates it against
// the OpenAPI 3.1 schema.
var laxBody = map[string]bool{"getOpenAPI": true}

// strictIgnore lists instance paths strict mode does not check: an event's
// data is the payload of its type, recorded as the domain wrote it, and its
// types grow with the domain (the Event schema says so).
var strictIgnore = []string{"$.body.events[*].data.*"}

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
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	// Security is the auth tests' subject (TestAuthMatrix): the other
	// tests run the API without tokens, so requests are validated without
	// it.
	opts := []config.Option{
		config.WithFormatAssertions(),
		config.WithoutSecurityValidation(),
		// RFC 7034's nosniff on every problem is not part of any
		// operation's answer.
		config.WithStrictIgnoredHeadersExtra("X-Content-Type-Options"),
		config.WithStrictIgnorePaths(strictIgnore...),
	}
	c := &Contract{
		doc:    &model.Model,
		router: router.NewRouter(&model.Model, router.WithPathOnlyMatching()),
		strict: validator.NewValidatorFromV3Model(&model.Model, append(opts, config.WithStrictMode())...),
		lax:    validator.NewValidatorFromV3Model(&model.Model, opts...),
		opts:   append(opts, config.WithStrictMode()),
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
	req := x.request()
	res := x.response(req)
	route, err := c.router.FindRoute(req)
	head := false
	if req.Method == http.MethodHead && errors.Is(err, router.ErrMethodNotAllowed) {
		// HEAD is GET without the body (RFC 9110 §9.3.2) on every GET path
		// the document does not give a head operation of its own.
		get := x.request()
		get.Method = http.MethodGet
		if r, gerr := c.router.FindRoute(get); gerr == nil {
			route, err, head = r, nil, true
		}
	}
	var re *router.RouteError
	switch {
	case err == nil:
	case errors.As(err, &re) && errors.Is(err, router.ErrMethodNotAllowed):
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
	asSent := x.request()
	if head {
		asSent.Method = http.MethodGet
	}
	if ok, errs := c.strict.ValidateHttpRequestSyncWithPathItem(asSent, route.PathItem, route.Path); !ok && x.Status < 400 {
		// The document refuses what the server took: the server is looser
		// than its contract says (an unknown query parameter, a value out
		// of range…), or the document is stricter than the server.
		report("the document refuses this request, the API accepted it", errs)
	}
	if head {
		return append(out, c.headResponse(op, x, req, res, route)...)
	}
	v := c.strict
	if laxBody[route.Operation.OperationId] {
		v = c.lax
	}
	if ok, errs := v.ValidateHttpResponse(req, res); !ok {
		report("response", errs)
	}
	return out
}

// headResponse checks the answer to HEAD on a GET operation: a status
// and headers GET documents, and no body.
func (c *Contract) headResponse(op string, x Exchange, req *http.Request, res *http.Response, route *router.Route) []string {
	code := strconv.Itoa(x.Status)
	resp := route.Operation.Responses.Codes.GetOrZero(code)
	if resp == nil {
		return []string{fmt.Sprintf("%s → %d: status %d is not documented for GET %s", op, x.Status, x.Status, route.Path)}
	}
	var out []string
	if len(x.Body) > 0 {
		out = append(out, fmt.Sprintf("%s → %d: HEAD answered a body of %d bytes", op, x.Status, len(x.Body)))
	}
	if ok, errs := responses.ValidateResponseHeaders(req, res, resp.Headers, route.Path, code, c.opts...); !ok {
		for _, e := range errs {
			out = append(out, fmt.Sprintf("%s → %d: response: %s", op, x.Status, describe(e)))
		}
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
