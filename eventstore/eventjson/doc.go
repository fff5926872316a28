// Package eventjson is the JSON form of a recorded event that users see:
// the items of GET /events and GET /orders/{id}/events, and the body of a
// webhook delivery. One encoder for all of them keeps the three identical.
package eventjson
