package api_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStoreDown: with the event store down, reads say that nothing could be
// read (not that a command may not have been applied), commands keep their
// warning, and GET /projections keeps answering with the projections'
// positions, the last head seen and the store's state.
func TestStoreDown(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		e := v.newEnv(t)
		pos := e.expect(e.do("POST", "/orders", placeBody("down")), 201).header.Get("X-Position")
		e.expect(e.do("GET", "/stock?min_position="+pos, nil), 200)
		e.expect(e.do("GET", "/analytics?min_position="+pos, nil), 200)
		e.expect(e.do("GET", "/projections", nil), 200) // the head is seen

		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/orders/down", "/orders/down/events", "/events"} {
			r := e.expect(e.do("GET", path, nil), 503)
			p := r.json(t)
			detail, _ := p["detail"].(string)
			if p["code"] != "store_unavailable" || strings.Contains(detail, "Idempotency-Key") || strings.Contains(detail, "command") {
				t.Fatalf("GET %s with the store down: want a read's store_unavailable: %s", path, r.body)
			}
		}
		r := e.expect(e.do("POST", "/orders", placeBody("late")), 503)
		if p := r.json(t); p["code"] != "store_unavailable" || !strings.Contains(p["detail"].(string), "Idempotency-Key") {
			t.Fatalf("a command with the store down: %s", r.body)
		}

		r = e.expect(e.do("GET", "/projections", nil), 200)
		var st struct {
			Projections []struct {
				Name       string `json:"name"`
				Position   json.Number
				Head       json.Number
				Store      string `json:"store"`
				StoreError string `json:"store_error"`
			} `json:"projections"`
		}
		if err := json.Unmarshal(r.body, &st); err != nil || len(st.Projections) == 0 {
			t.Fatalf("GET /projections with the store down: %v: %s", err, r.body)
		}
		for _, p := range st.Projections {
			if p.Store != "unavailable" || p.StoreError == "" || p.Head.String() != pos {
				t.Fatalf("projection %s with the store down: want store unavailable with its error and the last head %s: %s",
					p.Name, pos, r.body)
			}
			// The read models waited for above are at pos.
			if (p.Name == "stock" || p.Name == "analytics") && p.Position.String() != pos {
				t.Fatalf("projection %s with the store down: want its position %s: %s", p.Name, pos, r.body)
			}
		}

		// A read model that has reached min_position serves it without the
		// store; one that cannot tell says the store is down.
		e.expect(e.do("GET", "/stock?min_position="+pos, nil), 200)
		r = e.expect(e.do("GET", "/stock?min_position=4611686018427387904", nil), 503)
		if p := r.json(t); p["code"] != "store_unavailable" || strings.Contains(p["detail"].(string), "Idempotency-Key") {
			t.Fatalf("min_position unknown with the store down: %s", r.body)
		}
	})
}
