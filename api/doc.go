// Package api is orderstore's HTTP interface: JSON commands and queries on
// gorilla/mux, with every error answered as RFC 9457 problem+json.
//
// The routes, shapes and status codes are a contract (see openapi.json,
// served at GET /openapi.json). Only problem.go maps errors to statuses.
package api
