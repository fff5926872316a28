package api

import (
	"net/http"
	"strings"
)

// realm names the protection space in WWW-Authenticate.
const realm = "orderstore"

// access is what a route asks of a request.
type access struct {
	open  bool  // no token needed
	scope Scope // else the scope the token must hold
}

// accessFor is the access rule of every route, by method and route
// template. A route nobody thought about falls under the rule of its
// method (GET and HEAD read, anything else write), so a new route is never
// open by omission; the auth matrix test checks each route against the
// security its OpenAPI operation documents.
func (s *Server) accessFor(method, route string) access {
	switch route {
	case "/healthz", "/readyz", "/openapi.json":
		// Probes and the API's own description carry no data.
		return access{open: true}
	case "/", "/ui/{file}":
		// The console's page and files carry no data either: its script
		// reads the API with the token the user pastes, so every datum
		// stays behind the routes' own scopes.
		return access{open: true}
	case "/metrics":
		// Counts and latencies, no order data: open unless asked, so that
		// a scraper needs no token that could also read orders.
		if !s.cfg.MetricsAuth {
			return access{open: true}
		}
		return access{scope: ScopeRead}
	case "/projections/{name}/rebuild":
		return access{scope: ScopeAdmin}
	}
	if route == "/webhooks" || strings.HasPrefix(route, "/webhooks/") {
		return access{scope: ScopeAdmin}
	}
	if method == http.MethodGet || method == http.MethodHead {
		return access{scope: ScopeRead}
	}
	return access{scope: ScopeWrite}
}

// authError is a request refused by access control.
type authError struct {
	code   string // token_required, invalid_token or insufficient_scope
	scope  Scope  // the scope the route needs
	detail string
}

func (e *authError) Error() string { return e.detail }

// status is 403 when the token is known but lacks the scope, else 401.
func (e *authError) status() int {
	if e.code == "insufficient_scope" {
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// challenge is the WWW-Authenticate value (RFC 6750 §3): no error code
// when no token came, else the code and, for a missing scope, the scope.
func (e *authError) challenge() string {
	c := `Bearer realm="` + realm + `"`
	switch e.code {
	case "invalid_token":
		c += `, error="invalid_token"`
	case "insufficient_scope":
		c += `, error="insufficient_scope", scope="` + string(e.scope) + `"`
	}
	return c
}

// authorize runs inside the router, after markRoute: it checks the bearer
// token against the route's rule and records the token's name as the
// request's actor. The token itself goes nowhere: not into logs, bodies or
// events.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := info(r.Context())
		need := s.accessFor(r.Method, ri.route)
		if need.open {
			next.ServeHTTP(w, r)
			return
		}
		secret, err := bearerToken(r, need.scope)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		tok, ok := s.cfg.Tokens.Authenticate(secret)
		if !ok {
			s.fail(w, r, &authError{code: "invalid_token", scope: need.scope,
				detail: "the bearer token is not one this server accepts (mistyped, revoked, or made for another deployment)"})
			return
		}
		ri.actor = tok.Name
		if !tok.Has(need.scope) {
			s.fail(w, r, &authError{code: "insufficient_scope", scope: need.scope,
				detail: "token " + tok.Name + " lacks scope " + string(need.scope) + ", which " + r.Method + " " + ri.route +
					" needs; ask for a token with it (orderstore token new NAME --scope " + string(need.scope) + ")"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bearerToken returns the token of an `Authorization: Bearer <token>`
// header (the scheme is case-insensitive, RFC 9110 §11.1).
func bearerToken(r *http.Request, need Scope) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	switch {
	case h == "":
		return "", &authError{code: "token_required", scope: need,
			detail: "this route needs a token with scope " + string(need) + ": send Authorization: Bearer <token>"}
	case !strings.EqualFold(scheme, "Bearer"):
		return "", &authError{code: "token_required", scope: need,
			detail: "only bearer tokens are accepted: send Authorization: Bearer <token> (with scope " + string(need) + ")"}
	case token == "":
		return "", &authError{code: "invalid_token", scope: need,
			detail: "the Authorization header names the Bearer scheme but carries no token"}
	}
	return token, nil
}
