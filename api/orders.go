package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/eventstore/eventjson"
	"github.com/orderstore/orderstore/orders"
)

// orderView is the order resource of the API (see openapi.json).
type orderView struct {
	ID             string        `json:"id"`
	CustomerID     string        `json:"customer_id"`
	Status         domain.Status `json:"status"`
	Currency       string        `json:"currency"`
	Lines          []domain.Line `json:"lines"`
	Total          int64         `json:"total"`
	Version        int64         `json:"version"`
	PlacedAt       *time.Time    `json:"placed_at"`
	PaidAt         *time.Time    `json:"paid_at"`
	ShippedAt      *time.Time    `json:"shipped_at"`
	CancelledAt    *time.Time    `json:"cancelled_at"`
	CancelReason   string        `json:"cancel_reason"`
	PaidAmount     int64         `json:"paid_amount"`
	PaymentRef     string        `json:"payment_ref,omitempty"`
	Carrier        string        `json:"carrier,omitempty"`
	Tracking       string        `json:"tracking,omitempty"`
	RefundedAmount int64         `json:"refunded_amount"`
	// StockReservation is "none" for orders placed under the track policy.
	StockReservation domain.Reservation `json:"stock_reservation"`
	RejectReason     string             `json:"reject_reason"`
	Short            []domain.Shortage  `json:"short,omitempty"`
}

func viewOrder(o domain.Order, version int64) orderView {
	lines := o.Lines
	if lines == nil {
		lines = []domain.Line{}
	}
	v := orderView{
		ID: o.ID, CustomerID: o.CustomerID, Status: o.Status, Currency: o.Currency,
		Lines: lines, Total: o.Total(), Version: version,
		PlacedAt: timePtr(o.PlacedAt), PaidAt: timePtr(o.PaidAt), ShippedAt: timePtr(o.ShippedAt),
		CancelledAt: timePtr(o.CancelledAt), CancelReason: o.CancelReason,
		PaidAmount: o.PaidAmount, PaymentRef: o.PaymentRef, Carrier: o.Carrier, Tracking: o.Tracking,
		RefundedAmount: o.RefundedAmount, StockReservation: o.StockReservation, RejectReason: o.RejectReason,
	}
	if v.StockReservation == domain.ReservationNone {
		v.StockReservation = "none"
	}
	if o.Status == domain.StatusRejected {
		v.Short = o.Short
		if v.Short == nil {
			v.Short = []domain.Shortage{}
		}
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// writeJSON answers v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) //nolint:errcheck // the client may have gone
}

// commandRequest reads what every command request shares: the body (into
// cmd), Idempotency-Key and If-Match.
func (s *Server) commandRequest(w http.ResponseWriter, r *http.Request, cmd any) (orders.Request, error) {
	key, err := idempotencyKey(r)
	if err != nil {
		return orders.Request{}, err
	}
	match, err := ifMatch(r)
	if err != nil {
		return orders.Request{}, err
	}
	ri := info(r.Context())
	req := orders.Request{CorrelationID: ri.correlationID, IdempotencyKey: key, IfMatch: match, Actor: ri.actor,
		RequestID: ri.requestID, RequestedAt: ri.start, Name: r.Method + " " + ri.route, Traceparent: ri.traceparent}
	if cmd == nil {
		if key != "" {
			req.Fingerprint = fingerprint(r, nil)
		}
		return req, nil
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return orders.Request{}, err
	}
	if err := decodeJSON(b.raw, cmd); err != nil {
		return orders.Request{}, err
	}
	if key != "" {
		// The decoded values, re-encoded, not the bytes: a client that
		// re-serialises its request on retry (other key order, spacing)
		// sends the same request.
		canonical, err := json.Marshal(cmd)
		if err != nil {
			return orders.Request{}, fmt.Errorf("fingerprint: %w", err)
		}
		req.Fingerprint = fingerprint(r, canonical)
	}
	return req, nil
}

func (s *Server) writeResult(w http.ResponseWriter, status int, res orders.Result) {
	h := w.Header()
	h.Set("ETag", etag(res.Version))
	h.Set(headerPosition, strconv.FormatUint(res.Position, 10))
	if res.Replayed {
		h.Set("Idempotent-Replayed", "true")
	}
	if res.RequestID != "" {
		// A replay answers the outcome of the request that wrote the
		// events: its ID is their causation.
		h.Set(headerRequestID, res.RequestID)
	}
	writeJSON(w, status, viewOrder(res.Order, res.Version))
}

func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request) {
	var cmd domain.PlaceOrder
	req, err := s.commandRequest(w, r, &cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.cfg.Orders.Place(r.Context(), cmd, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/orders/"+res.Order.ID)
	s.writeResult(w, http.StatusCreated, res)
}

// execute runs a command on the order named in the path.
func (s *Server) execute(w http.ResponseWriter, r *http.Request, cmd domain.Command, req orders.Request) {
	res, err := s.cfg.Orders.Execute(r.Context(), mux.Vars(r)["id"], cmd, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeResult(w, http.StatusOK, res)
}

// executeBody decodes a command of type C from the body and executes it.
func executeBody[C domain.Command](s *Server, w http.ResponseWriter, r *http.Request) {
	var cmd C
	req, err := s.commandRequest(w, r, &cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.execute(w, r, cmd, req)
}

func (s *Server) addLine(w http.ResponseWriter, r *http.Request) {
	executeBody[domain.AddLine](s, w, r)
}
func (s *Server) pay(w http.ResponseWriter, r *http.Request)    { executeBody[domain.Pay](s, w, r) }
func (s *Server) ship(w http.ResponseWriter, r *http.Request)   { executeBody[domain.Ship](s, w, r) }
func (s *Server) cancel(w http.ResponseWriter, r *http.Request) { executeBody[domain.Cancel](s, w, r) }

func (s *Server) removeLine(w http.ResponseWriter, r *http.Request) {
	req, err := s.commandRequest(w, r, nil)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.execute(w, r, domain.RemoveLine{SKU: mux.Vars(r)["sku"]}, req)
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	at, err := queryInt(r, "version", -1, 0, 1<<62)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	order, version, err := s.cfg.Orders.Load(r.Context(), mux.Vars(r)["id"], at)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tag := etag(version)
	w.Header().Set("ETag", tag)
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, viewOrder(order, version))
}

func (s *Server) getOrderEvents(w http.ResponseWriter, r *http.Request) {
	recorded, err := s.cfg.Orders.Events(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": eventjson.FromAll(recorded)})
}

// Limits of GET /events paging.
const (
	defaultEventsLimit = 100
	maxEventsLimit     = 1000
)

func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit, err := queryInt(r, "limit", defaultEventsLimit, 1, maxEventsLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	filter, err := eventFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	recorded, err := s.cfg.Store.ReadFiltered(r.Context(), uint64(after), int(limit), filter)
	if errors.Is(err, eventstore.ErrInvalidPosition) {
		err = invalidAfter(r.Context(), s.cfg.Store, uint64(after))
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := uint64(after)
	if n := len(recorded); n > 0 {
		next = recorded[n-1].Position
	}
	w.Header().Set(headerPosition, strconv.FormatUint(next, 10))
	writeJSON(w, http.StatusOK, map[string]any{"events": eventjson.FromAll(recorded), "next": next})
}

// invalidAfter is the problem of an after that is not a position of the
// store: one beyond the head, between two sparse positions, or another
// store's.
func invalidAfter(ctx context.Context, store eventstore.Store, after uint64) error {
	detail := fmt.Sprintf("after=%d is not the position of an event of this store", after)
	if head, err := store.Head(ctx); err == nil {
		detail += fmt.Sprintf(" (its head is at %d)", head)
	}
	return &requestError{status: http.StatusBadRequest, code: "invalid_position", field: "after",
		detail: detail + "; positions are tokens, not counts: start at 0 and carry the next (or X-Position) of an earlier answer"}
}

// stockReceipt is the answer to a stock receipt.
type stockReceipt struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
	Version  int64  `json:"version"`
	Position uint64 `json:"position"`
}

func (s *Server) receiveStock(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Quantity int64 `json:"quantity"`
	}
	req, err := s.commandRequest(w, r, &in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sku := mux.Vars(r)["sku"]
	res, err := s.cfg.Orders.ReceiveStock(r.Context(), domain.ReceiveStock{SKU: sku, Quantity: in.Quantity}, req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set(headerPosition, strconv.FormatUint(res.Position, 10))
	w.Header().Set("ETag", etag(res.Version))
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if res.RequestID != "" {
		w.Header().Set(headerRequestID, res.RequestID)
	}
	writeJSON(w, http.StatusOK, stockReceipt{SKU: sku, Quantity: in.Quantity, Version: res.Version, Position: res.Position})
}
