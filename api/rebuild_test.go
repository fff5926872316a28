package api_test

import (
	"bytes"
	"testing"
)

// TestRebuildIdempotencyKey: a rebuild retried with its Idempotency-Key
// answers the first outcome and starts nothing; the key used for another
// projection is refused. The projections do not run here, so a started
// rebuild stays pending, and starting a second one would be refused with
// 409 rebuild_running.
func TestRebuildIdempotencyKey(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.openEnvWith(t, t.TempDir(), envOptions{idle: true})
		first := e.expect(e.do("POST", "/projections/stock/rebuild", nil, "Idempotency-Key", "rb-1"), 202)
		if first.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("the first rebuild is marked replayed: %v", first.header)
		}
		again := e.expect(e.do("POST", "/projections/stock/rebuild", nil, "Idempotency-Key", "rb-1"), 202)
		if !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" ||
			again.header.Get("Location") != first.header.Get("Location") {
			t.Fatalf("the repeat is not the first outcome replayed:\n%v %s\n%v %s", first.header, first.body, again.header, again.body)
		}
		r := e.expect(e.do("POST", "/projections/analytics/rebuild", nil, "Idempotency-Key", "rb-1"), 422)
		if p := r.json(t); p["code"] != "idempotency_key_reused" {
			t.Fatalf("the key reused for another projection: %s", r.body)
		}
		// The first rebuild is still the only one: another is refused.
		r = e.expect(e.do("POST", "/projections/stock/rebuild", nil), 409)
		if p := r.json(t); p["code"] != "rebuild_running" {
			t.Fatalf("a second rebuild: %s", r.body)
		}
		// A refused rebuild is not remembered: its key starts one later.
		e.expect(e.do("POST", "/projections/stock/rebuild", nil, "Idempotency-Key", "rb-2"), 409)
		e.expect(e.do("POST", "/projections/analytics/rebuild", nil, "Idempotency-Key", "rb-3"), 202)
		e.expect(e.do("POST", "/projections/analytics/rebuild", nil, "Idempotency-Key", "rb-3"), 202)
		e.expect(e.do("POST", "/projections/nope/rebuild", nil, "Idempotency-Key", "rb-4"), 404)
		e.expect(e.do("POST", "/projections/stock/rebuild", nil, "Idempotency-Key", "bad key"), 400)
	})
}
