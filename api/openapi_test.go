package api

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore/eventjson"
	"github.com/orderstore/orderstore/projections"
	"github.com/orderstore/orderstore/projections/analytics"
	"github.com/orderstore/orderstore/projections/stock"
	"github.com/orderstore/orderstore/webhooks"
)

// loadOpenAPI decodes the embedded document.
func loadOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(openAPI))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	return doc
}

// obj returns v[key] as an object, failing the test if it is not one.
func obj(t *testing.T, v any, path ...string) map[string]any {
	t.Helper()
	cur := v
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object", strings.Join(path, "."))
		}
		cur = m[k]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object (%T)", strings.Join(path, "."), cur)
	}
	return m
}

// operations lists "METHOD /path" → operation for every documented one.
func operations(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	ops := map[string]map[string]any{}
	for path, item := range obj(t, doc, "paths") {
		pi, ok := item.(map[string]any)
		if !ok {
			t.Fatalf("paths[%s]: not an object", path)
		}
		// The operation keys of an OpenAPI path item.
		for _, m := range []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"} {
			if op, ok := pi[m]; ok {
				ops[strings.ToUpper(m)+" "+path] = obj(t, op)
			}
		}
	}
	return ops
}

func TestOpenAPI_MatchesRoutes(t *testing.T) {
	s := New(Config{})
	routed := map[string]bool{}
	err := s.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no methods: %v", tpl, err)
			return nil
		}
		for _, m := range methods {
			routed[m+" "+tpl] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk routes: %v", err)
	}
	if len(routed) == 0 {
		t.Fatal("no routes found")
	}

	documented := operations(t, loadOpenAPI(t))
	for _, r := range sortedKeys(routed) {
		if documented[r] == nil {
			t.Errorf("route %s is not documented in openapi.json", r)
		}
	}
	for _, d := range sortedKeys(documented) {
		if !routed[d] {
			t.Errorf("openapi.json documents %s, which is not routed", d)
		}
	}
}

func TestOpenAPI_Valid(t *testing.T) {
	doc := loadOpenAPI(t)
	if v := doc["openapi"]; v != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", v)
	}
	if title, _ := obj(t, doc, "info")["title"].(string); title == "" {
		t.Error("info.title is missing")
	}

	// Building the validator builds the document: a $ref that does not
	// resolve fails LoadContract (and every API test with it); the
	// document is then checked against the OpenAPI 3.1 schema.
	t.Run("Schema", func(t *testing.T) {
		if ok, errs := LoadContract(t).strict.ValidateDocument(); !ok {
			for _, e := range errs {
				t.Errorf("openapi.json: %s", describe(e))
			}
		}
	})

	t.Run("Operations", func(t *testing.T) {
		ids := map[string]string{}
		ops := operations(t, doc)
		for _, key := range sortedKeys(ops) {
			op := ops[key]
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", key)
			} else if prev, dup := ids[id]; dup {
				t.Errorf("%s: operationId %q already used by %s", key, id, prev)
			}
			ids[id] = key
			responses, _ := op["responses"].(map[string]any)
			if len(responses) == 0 {
				t.Errorf("%s: no responses", key)
			}
			for code, r := range responses {
				checkResponse(t, doc, key, code, r)
			}
		}
	})

	t.Run("PathParameters", func(t *testing.T) {
		tplVar := regexp.MustCompile(`\{([^}]+)\}`)
		ops := operations(t, doc)
		for _, key := range sortedKeys(ops) {
			path := strings.SplitN(key, " ", 2)[1]
			declared := map[string]bool{}
			item := obj(t, doc, "paths", path)
			for _, list := range []any{item["parameters"], ops[key]["parameters"]} {
				params, _ := list.([]any)
				for _, p := range params {
					pm := derefObj(t, doc, p)
					if pm["in"] == "path" {
						if pm["required"] != true {
							t.Errorf("%s: path parameter %v is not required", key, pm["name"])
						}
						declared[pm["name"].(string)] = true
					}
				}
			}
			for _, m := range tplVar.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter {%s} is not declared", key, m[1])
				}
				delete(declared, m[1])
			}
			for name := range declared {
				t.Errorf("%s: declares path parameter %s that the path lacks", key, name)
			}
		}
	})

	t.Run("PostsTakeIdempotencyKey", func(t *testing.T) {
		ops := operations(t, doc)
		for _, key := range sortedKeys(ops) {
			if !strings.HasPrefix(key, "POST ") {
				continue
			}
			found := false
			params, _ := ops[key]["parameters"].([]any)
			for _, p := range params {
				if pm := derefObj(t, doc, p); pm["in"] == "header" && pm["name"] == headerIdempotencyKey {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no Idempotency-Key parameter", key)
			}
		}
	})
}

// checkResponse checks that an error response is a problem and a success
// response describes itself.
func checkResponse(t *testing.T, doc map[string]any, op, code string, r any) {
	t.Helper()
	resp := derefObj(t, doc, r)
	if d, _ := resp["description"].(string); d == "" {
		t.Errorf("%s %s: response without description", op, code)
	}
	if !strings.HasPrefix(code, "4") && !strings.HasPrefix(code, "5") {
		return
	}
	content, _ := resp["content"].(map[string]any)
	pj, ok := content["application/problem+json"].(map[string]any)
	if !ok || len(content) != 1 {
		t.Errorf("%s %s: error response is not (only) application/problem+json", op, code)
		return
	}
	if ref, _ := obj(t, pj, "schema")["$ref"].(string); ref != "#/components/schemas/Problem" {
		t.Errorf("%s %s: error schema is %q, want the Problem schema", op, code, ref)
	}
}

// derefObj follows v's $ref, if any, and returns the object.
func derefObj(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m := obj(t, v)
	if ref, ok := m["$ref"].(string); ok {
		target, ok := resolvePointer(doc, ref)
		if !ok {
			t.Fatalf("$ref %q does not resolve", ref)
		}
		return obj(t, target)
	}
	return m
}

// resolvePointer resolves a local "#/a/b" reference (RFC 6901).
func resolvePointer(doc map[string]any, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var cur any = doc
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// TestOpenAPI_FieldNames checks that the documented properties are exactly
// the JSON fields of the Go types the API encodes and decodes.
//
// The contract validation (contract_test.go) sees only the fields the
// tests' answers carry; this sees those a test may never get (omitempty
// ones such as failed_position, lag_capped or rebuild) and the fields the
// requests take.
func TestOpenAPI_FieldNames(t *testing.T) {
	schemas := obj(t, loadOpenAPI(t), "components", "schemas")
	for _, tc := range []struct {
		schema string
		typ    any
	}{
		{"ProjectionStatus", projections.Status{}},
		{"RebuildProgress", projections.Progress{}},
		{"StockItem", stock.Item{}},
		{"Analytics", analytics.Report{}},
		{"Analytics.revenue", analytics.Revenue{}},
		{"Analytics.top_skus", analytics.SKUSales{}},
		{"Analytics.daily", analytics.Day{}},
		{"OrderPlacedData", domain.OrderPlaced{}},
		{"OrderLineAddedData", domain.OrderLineAdded{}},
		{"OrderLineRemovedData", domain.OrderLineRemoved{}},
		{"OrderPaidData", domain.OrderPaid{}},
		{"OrderShippedData", domain.OrderShipped{}},
		{"OrderCancelledData", domain.OrderCancelled{}},
		{"StockReceivedData", domain.StockReceived{}},
		{"Order", orderView{}},
		{"Line", domain.Line{}},
		{"Event", eventjson.Event{}},
		{"StockReceipt", stockReceipt{}},
		{"WebhookRegistration", webhooks.NewEndpoint{}},
		{"WebhookEndpoint", webhooks.Endpoint{}},
		{"WebhookDelivery", webhooks.Delivery{}},
		{"WebhookAttempt", webhooks.Attempt{}},
		{"WebhookDeliveryPage", webhooks.DeliveryPage{}},
		{"WebhookRetryAccepted", retryAccepted{}},
		{"Problem", Problem{}},
		{"PlaceOrderRequest", domain.PlaceOrder{}},
		{"AddLineRequest", domain.AddLine{}},
		{"PayRequest", domain.Pay{}},
		{"ShipRequest", domain.Ship{}},
		{"CancelRequest", domain.Cancel{}},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			var props map[string]any
			switch name, member, _ := strings.Cut(tc.schema, "."); {
			case member == "":
				props = obj(t, schemas, name, "properties")
			case member == "revenue":
				props = obj(t, schemas, name, "properties", member, "patternProperties", "^[A-Z]{3}$", "properties")
			case member != "":
				props = obj(t, schemas, name, "properties", member, "items", "properties")
			}
			want := jsonFields(reflect.TypeOf(tc.typ))
			if got := sortedKeys(props); !slices.Equal(got, want) {
				t.Errorf("properties = %v, want the JSON fields %v", got, want)
			}
		})
	}
}

func jsonFields(typ reflect.Type) []string {
	var names []string
	for f := range typ.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// TestOpenAPI_Limits checks the documented limits against the code's.
func TestOpenAPI_Limits(t *testing.T) {
	doc := loadOpenAPI(t)
	schemas := obj(t, doc, "components", "schemas")
	params := obj(t, doc, "components", "parameters")
	num := func(v any) int64 {
		t.Helper()
		n, ok := v.(json.Number)
		if !ok {
			t.Fatalf("%v is not a number", v)
		}
		i, err := n.Int64()
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		return i
	}
	for _, name := range []string{"ID", "SKU"} {
		s := obj(t, schemas, name)
		if s["pattern"] != domain.IDPattern || num(s["maxLength"]) != domain.MaxIDLength || num(s["minLength"]) != 1 {
			t.Errorf("%s: pattern %v, length %v..%v; want %s, 1..%d", name, s["pattern"], s["minLength"], s["maxLength"],
				domain.IDPattern, domain.MaxIDLength)
		}
	}
	for _, c := range []struct {
		what string
		got  any
		want int64
	}{
		{what: "Quantity.minimum", got: obj(t, schemas, "Quantity")["minimum"], want: domain.MinQuantity},
		{what: "Quantity.maximum", got: obj(t, schemas, "Quantity")["maximum"], want: domain.MaxQuantity},
		{what: "UnitPrice.minimum", got: obj(t, schemas, "UnitPrice")["minimum"], want: 0},
		{what: "UnitPrice.maximum", got: obj(t, schemas, "UnitPrice")["maximum"], want: domain.MaxUnitPrice},
		{what: "PlaceOrderRequest.lines.maxItems", got: obj(t, schemas, "PlaceOrderRequest", "properties", "lines")["maxItems"], want: domain.MaxLines},
		{what: "PayRequest.payment_ref.maxLength", got: obj(t, schemas, "PayRequest", "properties", "payment_ref")["maxLength"], want: domain.MaxTextLength},
		{what: "ShipRequest.carrier.maxLength", got: obj(t, schemas, "ShipRequest", "properties", "carrier")["maxLength"], want: domain.MaxTextLength},
		{what: "ShipRequest.tracking.maxLength", got: obj(t, schemas, "ShipRequest", "properties", "tracking")["maxLength"], want: domain.MaxTextLength},
		{what: "CancelRequest.reason.maxLength", got: obj(t, schemas, "CancelRequest", "properties", "reason")["maxLength"], want: domain.MaxReasonLength},
		{what: "Limit.minimum", got: obj(t, params, "Limit", "schema")["minimum"], want: 1},
		{what: "Limit.maximum", got: obj(t, params, "Limit", "schema")["maximum"], want: maxEventsLimit},
		{what: "Limit.default", got: obj(t, params, "Limit", "schema")["default"], want: defaultEventsLimit},
		{what: "IdempotencyKey.maxLength", got: obj(t, params, "IdempotencyKey", "schema")["maxLength"], want: 255},
	} {
		if got := num(c.got); got != c.want {
			t.Errorf("%s = %d, want %d", c.what, got, c.want)
		}
	}

	var currencies []string
	for _, c := range obj(t, schemas, "Currency")["enum"].([]any) {
		currencies = append(currencies, c.(string))
	}
	if want := domain.Currencies(); !slices.Equal(currencies, want) {
		t.Errorf("Currency.enum = %v, want domain.Currencies() %v", currencies, want)
	}
	if !strings.Contains(obj(t, doc, "components", "responses", "PayloadTooLarge")["description"].(string),
		strconv.Itoa(DefaultMaxBodyBytes)) {
		t.Errorf("PayloadTooLarge does not name the limit %d", DefaultMaxBodyBytes)
	}
}

func TestOpenAPI_Served(t *testing.T) {
	srv := httptest.NewServer(New(Config{}).Handler())
	t.Cleanup(srv.Close)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if resp.Header.Get(headerCorrelationID) == "" {
		t.Errorf("no %s header", headerCorrelationID)
	}
	onDisk, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, onDisk) {
		t.Error("GET /openapi.json does not serve api/openapi.json")
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Errorf("served document does not parse: %v", err)
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
