// Package console is the web console served at "/": plain HTML, CSS and
// JavaScript embedded in the binary, with no build step and nothing
// fetched from elsewhere, so it works offline and in a container.
//
// The pages carry no data: the script reads it from the API (GET
// /projections, /events, /events/stream, /orders/{id}, /traces/…) with
// the bearer token the user pastes, kept in the tab's sessionStorage. So
// "/" and "/ui/*" are open routes, as /openapi.json is, and every datum
// stays behind the API's access control. The script writes user data
// into the page as text only (textContent), never as HTML, and the
// Content-Security-Policy allows scripts from the console's own files
// only.
package console
