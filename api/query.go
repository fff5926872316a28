package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"
)

// queryParams declares the query parameters of each route, by
// "METHOD template": strictQuery refuses any other, and
// TestQueryParams_MatchOpenAPI checks the table against openapi.json, so
// that the router, the document and the handlers agree. A route that is
// not listed takes none. HEAD takes its GET route's.
var queryParams = map[string][]string{
	"GET /orders":                 {"customer_id", "status", "after", "limit", "min_position"},
	"GET /orders/{id}":            {"version"},
	"GET /orders/{id}/fulfilment": {"min_position"},
	"GET /stock":                  {"min_position", "after", "limit"},
	"GET /stock/{sku}":            {"min_position"},
	"GET /analytics":              {"min_position", "from", "to"},
	"GET /events":                 {"after", "limit", "correlation_id", "type", "stream_prefix"},
	"GET /events/stream":          {"after", "correlation_id", "type", "stream_prefix"},

	"GET /webhooks/{id}/deliveries": {"state", "after", "limit"},
}

// strictQuery refuses, as bodies refuse unknown fields, a query that names
// a parameter its route does not take, names one twice, or does not parse:
// a typo (?aftr=3) is an error, not a silently ignored parameter.
func (s *Server) strictQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			if err := checkQuery(r); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// checkQuery checks r's query against its route's entry in queryParams.
func checkQuery(r *http.Request) error {
	var allowed []string
	if route := mux.CurrentRoute(r); route != nil {
		if tpl, err := route.GetPathTemplate(); err == nil {
			allowed = queryParams[r.Method+" "+tpl]
		}
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest("invalid_query", "the query string does not parse: "+err.Error())
	}
	for _, name := range sortedNames(q) {
		if !slices.Contains(allowed, name) {
			detail := fmt.Sprintf("unknown query parameter %q", name) + suggestion(name, allowed)
			if len(allowed) == 0 {
				detail += "; " + r.URL.Path + " takes no query parameters"
			} else {
				detail += "; " + r.URL.Path + " takes " + strings.Join(allowed, ", ")
			}
			return &requestError{status: http.StatusBadRequest, code: "invalid_query", field: name, detail: detail}
		}
		if n := len(q[name]); n > 1 {
			return &requestError{status: http.StatusBadRequest, code: "invalid_query", field: name,
				detail: fmt.Sprintf("query parameter %q is given %d times; give it once", name, n)}
		}
	}
	return nil
}

func sortedNames(q url.Values) []string {
	names := make([]string, 0, len(q))
	for name := range q {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
