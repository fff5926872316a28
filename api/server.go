package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/orderstore/orderstore/console"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/orders"
	"github.com/orderstore/orderstore/traces"
)

const (
	headerCorrelationID  = "X-Correlation-ID"
	headerRequestID      = "X-Request-ID"
	headerTraceparent    = "traceparent"
	headerPosition       = "X-Position"
	headerIdempotencyKey = "Idempotency-Key"

	// DefaultMaxBodyBytes bounds request bodies (413 beyond).
	DefaultMaxBodyBytes = 1 << 20

	logKeyMethod      = "method"
	logKeyRoute       = "route"
	logKeyStatus      = "status"
	logKeyDuration    = "duration"
	logKeyCorrelation = "correlation_id"
	logKeyRequestID   = "request_id"
	logKeyErr         = "err"
	logKeyActor       = "actor"
)

// Config wires a Server.
type Config struct {
	// Store is the event store; required.
	Store eventstore.Store
	// Orders executes commands; required.
	Orders *orders.Service
	// ReadModels serves GET /orders, the stock, analytics and projection routes; when
	// nil those routes answer 503.
	ReadModels ReadModels
	// Logger receives request logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the HTTP metrics; nil registers none.
	Registerer prometheus.Registerer
	// Gatherer serves GET /metrics; nil serves an empty set.
	Gatherer prometheus.Gatherer
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// WaitTimeout bounds min_position waits; 0 means 5 s.
	WaitTimeout time.Duration
	// Tokens are the bearer tokens the API accepts (see auth.go); nil
	// turns access control off: every route is open.
	Tokens *Tokens
	// MetricsAuth makes GET /metrics need a token with scope read; else it
	// is open, as /healthz and /readyz are.
	MetricsAuth bool
	// Webhooks manages the webhook endpoints; when nil the /webhooks
	// routes answer 503.
	Webhooks Webhooks
	// Fulfilment is the fulfilment saga of this process, for the failures
	// and deadlines GET /orders/{id}/fulfilment shows; nil when none runs.
	Fulfilment Fulfilment
	// StreamHeartbeat is the interval of GET /events/stream's heartbeat
	// comments; 0 means DefaultStreamHeartbeat.
	StreamHeartbeat time.Duration
	// StreamBuffer bounds the events GET /events/stream holds for a slow
	// client before cutting it off; 0 means DefaultStreamBuffer.
	StreamBuffer int
	// StreamFlush is the least time between two writes of a live stream
	// of GET /events/stream: the events committed meanwhile go out in one
	// write. A stream idle for longer writes the next event at once. 0
	// means DefaultStreamFlush; negative writes every batch at once.
	StreamFlush time.Duration
	// Tracer, if not nil, makes a span of every request, continuing the
	// client's traceparent; the span's context is what a command's events
	// record. Nil (export off) costs nothing.
	Tracer trace.Tracer
	// TraceSources add the nodes of consumers (a saga's steps, webhook
	// deliveries) to GET /traces; the read models' come with ReadModels.
	TraceSources []traces.Source
}

// Server is the HTTP API. Build it with New and serve Handler.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	router  *mux.Router
	metrics *metrics
	handler http.Handler
	traces  *traces.Builder
	hub     *hub // the live streams' shared subscription

	rebuilds    rebuildKeys // Idempotency-Keys of rebuilds
	webhookKeys webhookKeys // Idempotency-Keys of webhook commands
}

// New builds the API's routes over cfg.
func New(cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.WaitTimeout <= 0 {
		cfg.WaitTimeout = 5 * time.Second
	}
	if cfg.StreamHeartbeat <= 0 {
		cfg.StreamHeartbeat = DefaultStreamHeartbeat
	}
	if cfg.StreamBuffer <= 0 {
		cfg.StreamBuffer = DefaultStreamBuffer
	}
	if cfg.StreamFlush == 0 {
		cfg.StreamFlush = DefaultStreamFlush
	}

	s := &Server{cfg: cfg, logger: cfg.Logger}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.metrics = newMetrics(cfg.Registerer)
	s.traces = s.traceBuilder()
	s.hub = newHub(cfg.Store, s.logger, cfg.StreamBuffer, cfg.StreamFlush)
	s.router = s.routes()
	s.handler = s.observe(s.head(s.router))
	return s
}

// Handler returns the API's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// routes registers every route of the API contract.
func (s *Server) routes() *mux.Router {
	r := mux.NewRouter()
	// Match the path as sent: an encoded slash (%2F) in an order ID or SKU
	// is part of the value, which validation then refuses, not a separator
	// that path cleaning would resolve into a redirect to another resource.
	r.UseEncodedPath()
	r.Use(s.markRoute)
	if s.cfg.Tokens != nil {
		r.Use(s.authorize)
	}
	r.Use(s.strictQuery)
	if gc, ok := s.cfg.Store.(eventstore.GroupCommitter); ok {
		r.Use(announceAppends(gc))
	}

	r.HandleFunc("/orders", s.placeOrder).Methods(http.MethodPost)
	r.HandleFunc("/orders", s.listOrders).Methods(http.MethodGet)
	r.HandleFunc("/orders/{id}", s.getOrder).Methods(http.MethodGet)
	r.HandleFunc("/orders/{id}/events", s.getOrderEvents).Methods(http.MethodGet)
	r.HandleFunc("/orders/{id}/fulfilment", s.getFulfilment).Methods(http.MethodGet)
	r.HandleFunc("/orders/{id}/trace", s.getOrderTrace).Methods(http.MethodGet)
	r.HandleFunc("/orders/{id}/lines", s.addLine).Methods(http.MethodPost)
	r.HandleFunc("/orders/{id}/lines/{sku}", s.removeLine).Methods(http.MethodDelete)
	r.HandleFunc("/orders/{id}/payment", s.pay).Methods(http.MethodPost)
	r.HandleFunc("/orders/{id}/shipment", s.ship).Methods(http.MethodPost)
	r.HandleFunc("/orders/{id}/cancellation", s.cancel).Methods(http.MethodPost)
	r.HandleFunc("/stock/{sku}/receipts", s.receiveStock).Methods(http.MethodPost)
	r.HandleFunc("/stock", s.listStock).Methods(http.MethodGet)
	r.HandleFunc("/stock/{sku}", s.getStock).Methods(http.MethodGet)
	r.HandleFunc("/analytics", s.getAnalytics).Methods(http.MethodGet)
	r.HandleFunc("/events", s.getEvents).Methods(http.MethodGet)
	r.HandleFunc("/events/stream", s.streamEvents).Methods(http.MethodGet)
	r.HandleFunc("/traces/{correlation_id}", s.getTrace).Methods(http.MethodGet)
	r.HandleFunc("/projections", s.getProjections).Methods(http.MethodGet)
	r.HandleFunc("/projections/{name}/rebuild", s.rebuildProjection).Methods(http.MethodPost)
	r.HandleFunc("/webhooks", s.createWebhook).Methods(http.MethodPost)
	r.HandleFunc("/webhooks", s.listWebhooks).Methods(http.MethodGet)
	r.HandleFunc("/webhooks/{id}", s.getWebhook).Methods(http.MethodGet)
	r.HandleFunc("/webhooks/{id}", s.deleteWebhook).Methods(http.MethodDelete)
	r.HandleFunc("/webhooks/{id}/secret", s.rotateWebhookSecret).Methods(http.MethodPost)
	r.HandleFunc("/webhooks/{id}/pause", s.pauseWebhook).Methods(http.MethodPost)
	r.HandleFunc("/webhooks/{id}/resume", s.resumeWebhook).Methods(http.MethodPost)
	r.HandleFunc("/webhooks/{id}/deliveries", s.listDeliveries).Methods(http.MethodGet)
	r.HandleFunc("/webhooks/{id}/deliveries/{delivery_id}/retry", s.retryDelivery).Methods(http.MethodPost)
	r.HandleFunc("/webhooks/{id}/dead/retry", s.retryDead).Methods(http.MethodPost)
	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.Handle("/metrics", s.metricsHandler()).Methods(http.MethodGet)
	r.HandleFunc("/openapi.json", serveOpenAPI).Methods(http.MethodGet)
	r.HandleFunc("/", console.Index).Methods(http.MethodGet)
	r.HandleFunc("/ui/{file}", s.consoleAsset).Methods(http.MethodGet)

	notAllowed := func(w http.ResponseWriter, req *http.Request) {
		allow := allowedMethods(r, req)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, req, Problem{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
			Detail: req.Method + " is not allowed on " + req.URL.Path + "; allowed: " + strings.Join(allow, ", ")})
	}
	r.MethodNotAllowedHandler = http.HandlerFunc(notAllowed)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if len(allowedMethods(r, req)) > 0 {
			notAllowed(w, req)
			return
		}
		writeProblem(w, req, Problem{Status: http.StatusNotFound, Code: "no_route", Detail: "no route for " + req.URL.Path})
	})
	return r
}

// consoleAsset serves a file of the web console; an unknown one is a 404
// problem like any other.
func (s *Server) consoleAsset(w http.ResponseWriter, r *http.Request) {
	if !console.Has(mux.Vars(r)["file"]) {
		writeProblem(w, r, Problem{Status: http.StatusNotFound, Code: "no_route", Detail: "the console has no file " + r.URL.Path})
		return
	}
	console.Asset(w, r)
}

// allowedMethods re-runs routing with other methods, for 405's Allow.
// HEAD goes with GET (see head).
func allowedMethods(root *mux.Router, req *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if routed(root, req, m) {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	return allow
}

// routed tells whether root has a route for req's path with method.
func routed(root *mux.Router, req *http.Request, method string) bool {
	c := req.Clone(req.Context())
	c.Method = method
	var rm mux.RouteMatch
	return root.Match(c, &rm) && rm.MatchErr == nil
}

// head answers HEAD on every GET route as GET would, without the body
// (RFC 9110 §9.3.2): the routes, and what they check, stay GET's.
func (s *Server) head(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead || !routed(s.router, r, http.MethodGet) {
			next.ServeHTTP(w, r)
			return
		}
		get := r.Clone(r.Context())
		get.Method = http.MethodGet
		next.ServeHTTP(headWriter{w}, get)
	})
}

// headWriter drops the body of an answer to HEAD; net/http does too, but
// not every ResponseWriter is net/http's.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type ctxKey int

const (
	keyRequestInfo ctxKey = iota
)

// requestInfo travels in the request context so that the outer middleware
// learns the matched route and the correlation ID.
type requestInfo struct {
	route         string
	correlationID string
	requestID     string    // this request's own ID, the causation of its events
	start         time.Time // when the request arrived
	traceparent   string    // the W3C trace context to record, "" for none
	actor         string    // the name of the request's token, if any
	err           error     // a server-side error to log with the request
}

func info(ctx context.Context) *requestInfo {
	if ri, ok := ctx.Value(keyRequestInfo).(*requestInfo); ok {
		return ri
	}
	return &requestInfo{}
}

// markRoute runs inside mux for matched routes and records the template.
func (s *Server) markRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route := mux.CurrentRoute(r); route != nil {
			if tpl, err := route.GetPathTemplate(); err == nil {
				info(r.Context()).route = tpl
			}
		}
		next.ServeHTTP(w, r)
	})
}

// announceAppends tells a store that commits in groups that a command on
// an order or a SKU is on its way to an append (eventstore.GroupCommitter),
// once the request is authorized: commits under load then wait a moment
// for it rather than leave it to the next one.
func announceAppends(gc eventstore.GroupCommitter) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet || r.Method == http.MethodHead || !appendsEvents(info(r.Context()).route) {
				next.ServeHTTP(w, r)
				return
			}
			ctx, done := gc.Expect(r.Context())
			defer done()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// appendsEvents reports whether a command route (POST or DELETE) appends
// to the event store: the commands on orders and stock.
func appendsEvents(route string) bool {
	return route == "/orders" || strings.HasPrefix(route, "/orders/") || strings.HasPrefix(route, "/stock/")
}

// observe wraps every request: correlation ID, panic guard, metrics, log.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{route: "unmatched", correlationID: correlationID(r), requestID: uuid.NewString(), start: start,
			traceparent: validTraceparent(r.Header.Get(headerTraceparent))}
		h := w.Header()
		h.Set(headerCorrelationID, ri.correlationID)
		h.Set(headerRequestID, ri.requestID)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		ctx := context.WithValue(r.Context(), keyRequestInfo, ri)
		if s.cfg.Tracer != nil {
			var span trace.Span
			ctx, span = s.startSpan(ctx, r, ri)
			defer func() { endSpan(span, r, ri, rec.status) }()
		}
		r = r.WithContext(ctx)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler { //nolint:errorlint // sentinel value, not an error chain
					panic(v)
				}
				ri.err = errors.New("panic in handler")
				s.logger.Error("panic in handler", logKeyRoute, ri.route, "panic", v)
				if !rec.wrote {
					writeProblem(rec, r, problemFor(ri.err, isRead(r)))
				}
			}
			d := time.Since(start)
			s.metrics.observe(r.Method, ri.route, rec.status, d)
			s.logRequest(r, ri, rec.status, d)
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRequest writes the request's log line: an error at Error, a
// successful probe at Debug, else Info. The line is built only if the
// logger takes it.
func (s *Server) logRequest(r *http.Request, ri *requestInfo, status int, d time.Duration) {
	level, msg := slog.LevelInfo, "request"
	switch {
	case ri.err != nil:
		level, msg = slog.LevelError, "request failed"
	case isProbe(ri.route) && status < 400:
		// Orchestrators probe every few seconds: a line each at Info
		// would drown the log. A failing probe stays at Info.
		level = slog.LevelDebug
	}
	ctx := r.Context()
	if !s.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String(logKeyMethod, r.Method), slog.String(logKeyRoute, ri.route),
		slog.Int(logKeyStatus, status), slog.Duration(logKeyDuration, d), slog.String(logKeyCorrelation, ri.correlationID),
		slog.String(logKeyRequestID, ri.requestID))
	if ri.actor != "" {
		attrs = append(attrs, slog.String(logKeyActor, ri.actor))
	}
	if ri.err != nil {
		attrs = append(attrs, slog.Any(logKeyErr, ri.err))
	}
	s.logger.LogAttrs(ctx, level, msg, attrs...)
}

// isProbe reports whether route is a health check's.
func isProbe(route string) bool { return route == "/healthz" || route == "/readyz" }

// correlationID takes the client's X-Correlation-ID if it is a sane token,
// else makes one.
func correlationID(r *http.Request) string {
	id := r.Header.Get(headerCorrelationID)
	if id == "" || len(id) > 128 || strings.IndexFunc(id, func(c rune) bool {
		return c > unicode.MaxASCII || !unicode.IsPrint(c) || c == ' '
	}) >= 0 {
		// Time-ordered, so the store's correlation index takes new flows
		// at its end rather than on a random page each.
		return uuid.Must(uuid.NewV7()).String()
	}
	return id
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// fail answers err as a problem; server-side errors are kept for the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err, isRead(r))
	if p.Status >= 500 && p.Code != "projection_behind" {
		// A wait for a position that did not come in time is the client's
		// bound, not a failure of ours.
		info(r.Context()).err = err
	}
	writeProblem(w, r, p)
}
