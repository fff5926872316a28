package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/orders"
	"github.com/orderstore/orderstore/projections"
	"github.com/orderstore/orderstore/projections/stock"
	"github.com/orderstore/orderstore/traces"
	"github.com/orderstore/orderstore/webhooks"
)

// Problem is an RFC 9457 problem details object. Code is a stable,
// machine-readable name for the kind of problem; the other extension
// members appear when they apply.
type Problem struct {
	Type          string  `json:"type"`
	Title         string  `json:"title"`
	Status        int     `json:"status"`
	Detail        string  `json:"detail,omitempty"`
	Instance      string  `json:"instance,omitempty"`
	Code          string  `json:"code"`
	Field         string  `json:"field,omitempty"`
	Version       *int64  `json:"current_version,omitempty"`
	Position      *uint64 `json:"position,omitempty"`
	Head          *uint64 `json:"head,omitempty"`
	CorrelationID string  `json:"correlation_id,omitempty"`

	// challenge, when set, is sent as WWW-Authenticate (401 and 403).
	challenge string
}

// requestError is a problem found in the request itself, before any
// command ran.
type requestError struct {
	status int
	code   string
	detail string
	field  string
}

func (e *requestError) Error() string { return e.detail }

func badRequest(code, detail string) error {
	return &requestError{status: http.StatusBadRequest, code: code, detail: detail}
}

// statusClientClosed is the status logged when the client went away before
// the answer (nginx's convention); no client sees it.
const statusClientClosed = 499

// isRead tells reads (GET, HEAD), which change nothing, from commands,
// whose problems must say whether the command may have been applied.
func isRead(r *http.Request) bool {
	return r.Method == http.MethodGet || r.Method == http.MethodHead
}

// problemFor maps an error to its problem; read tells whether the request
// was a read (see isRead). Server-side failures keep their details out of
// the body; they are logged instead.
func problemFor(err error, read bool) Problem {
	var (
		re  *requestError
		ve  *domain.ValidationError
		vm  *orders.VersionMismatchError
		mbe *http.MaxBytesError
		we  *waitError
		be  *beyondHeadError
		pbe *projections.BehindError
		ae  *authError
		wve *webhooks.ValidationError
	)
	switch {
	case errors.As(err, &ae):
		return Problem{Status: ae.status(), Code: ae.code, Detail: ae.detail, challenge: ae.challenge()}
	case errors.As(err, &re):
		return Problem{Status: re.status, Code: re.code, Detail: re.detail, Field: re.field}
	case errors.As(err, &mbe):
		return Problem{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Detail: "the request body exceeds " + strconv.FormatInt(mbe.Limit, 10) + " bytes"}
	case errors.As(err, &ve):
		return Problem{Status: http.StatusUnprocessableEntity, Code: "invalid_value", Detail: ve.Error(), Field: ve.Field}
	case errors.Is(err, orders.ErrIdempotencyKeyReused):
		return Problem{Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused",
			Detail: "this Idempotency-Key was used for a different request; use a new key for a new request"}
	case errors.As(err, &vm):
		return Problem{Status: http.StatusPreconditionFailed, Code: "version_mismatch",
			Detail: "If-Match names version " + strconv.FormatInt(vm.Expected, 10) + " but the order is at version " +
				strconv.FormatInt(vm.Actual, 10) + "; reload it and decide again", Version: &vm.Actual}
	case errors.As(err, &wve) && wve.Private:
		return Problem{Status: http.StatusUnprocessableEntity, Code: "private_target", Field: wve.Field, Detail: wve.Error()}
	case errors.As(err, &wve):
		return Problem{Status: http.StatusUnprocessableEntity, Code: "invalid_value", Field: wve.Field, Detail: wve.Error()}
	case errors.Is(err, webhooks.ErrNotFound):
		return Problem{Status: http.StatusNotFound, Code: "not_found", Detail: err.Error() + "; list the webhooks at GET /webhooks"}
	case errors.Is(err, webhooks.ErrNotRetryable):
		return Problem{Status: http.StatusConflict, Code: "not_retryable",
			Detail: err.Error() + ": only dead and failed deliveries are retried; a pending one is sent when its turn comes"}
	case errors.Is(err, errNoWebhooks):
		return Problem{Status: http.StatusServiceUnavailable, Code: "webhooks_unavailable", Detail: err.Error()}
	case errors.Is(err, webhooks.ErrClosed):
		return Problem{Status: http.StatusServiceUnavailable, Code: "webhooks_unavailable", Detail: "the webhook notifier is closed (the server is stopping); retry later"}
	case errors.Is(err, domain.ErrOrderNotFound), errors.Is(err, orders.ErrVersionNotFound),
		errors.Is(err, stock.ErrNotFound), errors.Is(err, projections.ErrUnknownProjection), errors.Is(err, traces.ErrNotFound):
		return Problem{Status: http.StatusNotFound, Code: "not_found", Detail: err.Error()}
	case errors.Is(err, domain.ErrOrderExists):
		return Problem{Status: http.StatusConflict, Code: "order_exists", Detail: err.Error()}
	case errors.Is(err, domain.ErrNotAllowed):
		return Problem{Status: http.StatusConflict, Code: "not_allowed", Detail: err.Error()}
	case errors.Is(err, orders.ErrConflict):
		return Problem{Status: http.StatusConflict, Code: "concurrent_update",
			Detail: "the stream kept changing under concurrent writers; retry the request"}
	case errors.Is(err, projections.ErrRebuildRunning):
		return Problem{Status: http.StatusConflict, Code: "rebuild_running", Detail: err.Error() + "; follow it at GET /projections"}
	case errors.Is(err, errNoReadModels):
		return Problem{Status: http.StatusServiceUnavailable, Code: "read_models_unavailable", Detail: err.Error()}
	case errors.Is(err, projections.ErrFailed):
		return Problem{Status: http.StatusServiceUnavailable, Code: "projection_failed",
			Detail: "the projection has failed (an event it cannot apply, or read models built from another event store); see last_error in GET /projections, then rebuild"}
	case errors.As(err, &we):
		return Problem{Status: http.StatusServiceUnavailable, Code: "projection_behind", Detail: we.Error(), Position: &we.position}
	case errors.As(err, &pbe):
		return Problem{Status: http.StatusServiceUnavailable, Code: "projection_behind", Detail: pbe.Error(), Position: &pbe.Position}
	case errors.As(err, &be):
		return Problem{Status: http.StatusConflict, Code: "position_not_reached", Field: "min_position", Detail: be.Error(), Head: &be.head}
	case errors.Is(err, eventstore.ErrUnsupported):
		return Problem{Status: http.StatusNotImplemented, Code: "filter_unsupported",
			Detail: "this event store cannot select events by that filter here (KurrentDB's correlation_id needs the correlations projection, " +
				"which orderstore serve runs); filter by type or stream_prefix, or read the whole feed (GET /events without filters)"}
	case read && (errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrClosed)):
		return Problem{Status: http.StatusServiceUnavailable, Code: "store_unavailable",
			Detail: "the event store is unavailable, so this cannot be read now; retry later " +
				"(GET /projections still shows the projections' state)"}
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, eventstore.ErrClosed):
		return Problem{Status: http.StatusServiceUnavailable, Code: "store_unavailable",
			Detail: "the event store is unavailable; the command may not have been applied: " +
				"retry later, with the same Idempotency-Key to be safe"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		return Problem{Status: statusClientClosed, Code: "client_closed", Detail: "the client closed the request"}
	case read && errors.Is(err, context.DeadlineExceeded):
		return Problem{Status: http.StatusServiceUnavailable, Code: "timeout", Detail: "the read timed out; retry later"}
	case errors.Is(err, context.DeadlineExceeded):
		return Problem{Status: http.StatusServiceUnavailable, Code: "timeout", Detail: "the request timed out; it may or may not have been applied"}
	}
	return Problem{Status: http.StatusInternalServerError, Code: "internal", Detail: "an internal error occurred; it has been logged"}
}

// writeProblem answers with p, filling in the defaults.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	// Escaped: instance is a URI reference (RFC 9457 §3.1.5), and a path
	// the API refuses may hold any byte.
	p.Instance = r.URL.EscapedPath()
	p.CorrelationID = w.Header().Get(headerCorrelationID)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("ETag")
	if p.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	if p.challenge != "" {
		h.Set("WWW-Authenticate", p.challenge)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p) //nolint:errcheck // the client may have gone; nothing to do
}
