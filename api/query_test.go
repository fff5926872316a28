package api

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/orderstore/orderstore/orders"
)

// TestQueryParams_MatchOpenAPI checks the query parameters each route
// takes (queryParams, enforced by strictQuery) against those openapi.json
// documents for it.
func TestQueryParams_MatchOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := operations(t, doc)
	for _, key := range sortedKeys(ops) {
		var documented []string
		_, path, _ := strings.Cut(key, " ")
		item := obj(t, doc, "paths", path)
		for _, list := range []any{item["parameters"], ops[key]["parameters"]} {
			params, _ := list.([]any)
			for _, p := range params {
				if pm := derefObj(t, doc, p); pm["in"] == "query" {
					documented = append(documented, pm["name"].(string))
				}
			}
		}
		slices.Sort(documented)
		taken := slices.Sorted(slices.Values(queryParams[key]))
		if !slices.Equal(documented, taken) {
			t.Errorf("%s: openapi.json documents the query parameters %v, queryParams (api/query.go) takes %v", key, documented, taken)
		}
	}
	for key := range queryParams {
		if ops[key] == nil {
			t.Errorf("queryParams (api/query.go) names %s, which openapi.json does not document", key)
		}
	}
}

func TestSuggestion(t *testing.T) {
	known := []string{"after", "limit", "min_position", "customer_id", "id"}
	for _, tc := range []struct{ name, want string }{
		{"aftr", "after"},
		{"afterr", "after"},
		{"LIMIT", "limit"},
		{"minposition", "min_position"},
		{"min_pos", "min_position"},
		{"custmer_id", "customer_id"},
		{"customer", "customer_id"},
		{"colour", ""},
		{"x", ""},
		{"", ""},
	} {
		want := ""
		if tc.want != "" {
			want = fmt.Sprintf(" (did you mean %q?)", tc.want)
		}
		if got := suggestion(tc.name, known); got != want {
			t.Errorf("suggestion(%q) = %q, want %q", tc.name, got, want)
		}
	}
}

// TestRebuildKeys_Bound: the keys kept are the newest maxRebuildKeys; an
// older one is forgotten, and its repeat starts a rebuild again.
func TestRebuildKeys_Bound(t *testing.T) {
	var k rebuildKeys
	started := 0
	rebuild := func(string) error { started++; return nil }
	for i := range maxRebuildKeys + 1 {
		if replayed, err := k.start(fmt.Sprint("key-", i), "stock", rebuild); err != nil || replayed {
			t.Fatalf("key %d: replayed %v, %v", i, replayed, err)
		}
	}
	if len(k.names) != maxRebuildKeys || len(k.order) != maxRebuildKeys {
		t.Fatalf("%d keys kept (%d in order), want %d", len(k.names), len(k.order), maxRebuildKeys)
	}
	if replayed, err := k.start(fmt.Sprint("key-", maxRebuildKeys), "stock", rebuild); err != nil || !replayed {
		t.Fatalf("the newest key: replayed %v, %v", replayed, err)
	}
	if _, err := k.start(fmt.Sprint("key-", maxRebuildKeys), "analytics", rebuild); !errors.Is(err, orders.ErrIdempotencyKeyReused) {
		t.Fatalf("the newest key for another projection: %v", err)
	}
	if replayed, err := k.start("key-0", "stock", rebuild); err != nil || replayed {
		t.Fatalf("the forgotten oldest key: replayed %v, %v", replayed, err)
	}
	if started != maxRebuildKeys+2 {
		t.Fatalf("%d rebuilds started, want %d", started, maxRebuildKeys+2)
	}
}
