package api_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestMinPositionBeyondHead: a min_position no event has reached is
// answered at once with 409 position_not_reached and the head, not after
// the wait; positions up to the head are waited for and served.
func TestMinPositionBeyondHead(t *testing.T) {
	t.Parallel()
	eachVariant(t, func(t *testing.T, v variant) {
		// An hour's wait: an answer after the wait would end the test
		// by its deadline, not by a pass.
		e := v.openEnvWith(t, t.TempDir(), envOptions{waitTimeout: time.Hour})
		pos := e.expect(e.do("POST", "/orders", placeBody("beyond")), 201).header.Get("X-Position")
		head, err := strconv.ParseUint(pos, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		// Served once the read model is there; and then the store has
		// published pos as its head (the embedded store answers an append
		// a moment before), which the answers below name.
		for _, path := range []string{"/stock", "/stock/SKU-1", "/analytics"} {
			if r := e.expect(e.do("GET", path+"?min_position="+pos, nil), 200); r.header.Get("X-Position") != pos {
				t.Fatalf("GET %s?min_position=%s read at %s", path, pos, r.header.Get("X-Position"))
			}
		}
		// The test computes a number past the head to probe the API;
		// clients never may.
		for _, p := range []string{strconv.FormatUint(head+1, 10), "4611686018427387904"} {
			for _, path := range []string{"/stock", "/stock/SKU-1", "/analytics"} {
				r := e.expect(e.do("GET", path+"?min_position="+p, nil), 409)
				pr := r.json(t)
				if pr["code"] != "position_not_reached" || pr["field"] != "min_position" || fmt.Sprint(pr["head"]) != pos {
					t.Fatalf("GET %s?min_position=%s: want position_not_reached with head %s: %s", path, p, pos, r.body)
				}
			}
		}
	})
}
