package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/orderstore/orderstore/eventstore"
)

// Bounds of the filter values of GET /events and GET /events/stream.
const (
	maxFilterValue  = 128
	maxStreamPrefix = 200
)

// eventFilter reads the filters of the event feeds: correlation_id, type
// and stream_prefix, each of visible ASCII (a correlation ID as
// X-Correlation-ID takes them); a stream prefix may not start with "$",
// which names no stream of this store.
func eventFilter(r *http.Request) (eventstore.Filter, error) {
	q := r.URL.Query()
	f := eventstore.Filter{
		CorrelationID: q.Get("correlation_id"),
		Type:          q.Get("type"),
		StreamPrefix:  q.Get("stream_prefix"),
	}
	for _, p := range []struct {
		name, value string
		max         int
	}{
		{"correlation_id", f.CorrelationID, maxFilterValue},
		{"type", f.Type, maxFilterValue},
		{"stream_prefix", f.StreamPrefix, maxStreamPrefix},
	} {
		if _, given := q[p.name]; !given {
			continue
		}
		if p.value == "" || len(p.value) > p.max || !visibleASCII(p.value) {
			return eventstore.Filter{}, &requestError{status: http.StatusBadRequest, code: "invalid_query", field: p.name,
				detail: "query parameter " + p.name + " must be 1 to " + strconv.Itoa(p.max) + " visible ASCII characters (no spaces)"}
		}
	}
	if strings.HasPrefix(f.StreamPrefix, "$") {
		return eventstore.Filter{}, &requestError{status: http.StatusBadRequest, code: "invalid_query", field: "stream_prefix",
			detail: "stream_prefix may not start with \"$\": no stream of this store does (order-<id>, stock-<sku>)"}
	}
	return f, nil
}

func visibleASCII(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
