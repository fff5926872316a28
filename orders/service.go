package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/orderstore/orderstore/domain"
	"github.com/orderstore/orderstore/eventstore"
	"github.com/orderstore/orderstore/internal/plainjson"
)

var (
	// ErrVersionMismatch is returned when the caller pinned a version (If-Match)
	// and the order is at another one. It comes as a *VersionMismatchError.
	ErrVersionMismatch = errors.New("order version does not match")

	// ErrIdempotencyKeyReused is returned when an idempotency key already
	// used for one request comes with a different request.
	ErrIdempotencyKeyReused = errors.New("idempotency key reused with a different request")

	// ErrConflict is returned when concurrent writers kept changing the
	// stream (an order's, or a SKU's for a keyed stock receipt) through
	// every retry.
	ErrConflict = errors.New("stream changed concurrently; retry")

	// ErrVersionNotFound is returned by Load for a version the order never had.
	ErrVersionNotFound = errors.New("order has no such version")
)

// VersionMismatchError tells the caller the order's current version. It
// matches ErrVersionMismatch.
type VersionMismatchError struct {
	Expected, Actual int64
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("order is at version %d, not %d", e.Actual, e.Expected)
}

// Unwrap returns ErrVersionMismatch.
func (e *VersionMismatchError) Unwrap() error { return ErrVersionMismatch }

// MaxAttempts bounds the read-decide-append cycles of one command (or
// keyed stock receipt) when writers in other processes (replicas) win the
// race. Writers in this process queue on a per-stream lock instead of
// racing.
const MaxAttempts = 10

// lockStripes is the number of locks commands on streams hash onto.
const lockStripes = 1024

// Options configure a Service.
type Options struct {
	Logger *slog.Logger
	// Now stamps decisions; nil means time.Now.
	Now func() time.Time
	// OnAppend, if set, is called after every successful append with its
	// duration and event count (for metrics).
	OnAppend func(d time.Duration, events int)
	// ReserveStock places new orders under the reserve stock policy: the
	// fulfilment saga reserves their lines (see package fulfilment).
	// Without it orders are placed under the track policy.
	ReserveStock bool
	// Tracer, if not nil, makes a span of every append; its context is the
	// traceparent the events record, so that consumers link to it.
	Tracer trace.Tracer
}

// Service executes commands on orders and stock. It is safe for concurrent
// use.
type Service struct {
	store    eventstore.Store
	logger   *slog.Logger
	now      func() time.Time
	onAppend func(time.Duration, int)
	reserve  bool
	tracer   trace.Tracer

	// stripes serialise commands on one stream within this process, so
	// that concurrent requests on a hot order queue rather than burn
	// their retries on version conflicts. Each is a one-slot semaphore, so
	// that a waiting request can give up when its context ends.
	stripes [lockStripes]chan struct{}
}

// lock takes the stripe lock of stream, or gives up when ctx ends, and
// returns its unlock.
func (s *Service) lock(ctx context.Context, stream string) (unlock func(), err error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(stream)) //nolint:errcheck // hash writes never fail
	slot := s.stripes[h.Sum32()%lockStripes]
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	default:
	}
	// The holder may be waiting for a commit that holds for announced
	// commands: this one cannot join it, so it does not count while it
	// waits.
	if gc, ok := s.store.(eventstore.GroupCommitter); ok {
		defer gc.Wait(ctx)()
	}
	select {
	case slot <- struct{}{}:
		return func() { <-slot }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for %s: %w", stream, ctx.Err())
	}
}

// New returns a Service over store.
func New(store eventstore.Store, opts Options) *Service {
	s := &Service{store: store, logger: opts.Logger, now: opts.Now, onAppend: opts.OnAppend, reserve: opts.ReserveStock, tracer: opts.Tracer}
	for i := range s.stripes {
		s.stripes[i] = make(chan struct{}, 1)
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Request carries what a command needs besides its own values.
type Request struct {
	// CorrelationID is recorded on every event; required.
	CorrelationID string
	// IdempotencyKey, if set, makes the command safe to retry.
	IdempotencyKey string
	// Fingerprint identifies the request's content (a hash of method, path
	// and body); a retry with the same key must have the same fingerprint.
	Fingerprint string
	// IfMatch, if not nil, is the version the caller read; the command
	// applies only if the order is still at it.
	IfMatch *int64
	// Actor names who asked (the API token's name), recorded on every
	// event as metadata "actor"; empty when access control is off.
	Actor string
	// RequestID identifies the request that asked for the command: every
	// event the command writes has it as causation_id. Empty: the service
	// makes one.
	RequestID string
	// RequestedAt is when the request arrived, recorded as metadata
	// "requested_at" so that a trace can time its events from it.
	RequestedAt time.Time
	// Name says what was asked (the API's "METHOD route"), recorded as
	// metadata "request".
	Name string
	// Traceparent is the W3C trace context the request continues, recorded
	// as metadata "traceparent"; empty for none.
	Traceparent string
}

// Result is the outcome of a command.
type Result struct {
	Order domain.Order
	// Version is the order's version after the command.
	Version int64
	// Position is the global position of the command's last event.
	Position uint64
	// Replayed is true when the outcome is that of an earlier request with
	// the same idempotency key: nothing was written this time.
	Replayed bool
	// RequestID is the causation of the command's events: the request's
	// own ID, or on a replay the ID of the request that wrote them.
	RequestID string
}

// metadata is what the service records with each event.
type metadata struct {
	domain.Metadata
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	Fingerprint    string `json:"request_fingerprint,omitempty"`
	// Events is the number of events the command produced (on its first
	// event), so that a replay knows where the command's outcome ends.
	Events int `json:"command_events,omitempty"`
	// RequestID is unique to one append call with an idempotency key: when
	// the store answers with events of another call (a retry that raced
	// the first attempt), the events it reports do not carry ours.
	RequestID string `json:"request_id,omitempty"`
	// Actor is Request.Actor: who asked for the command.
	Actor string `json:"actor,omitempty"`
	// Request is Request.Name: what was asked.
	Request string `json:"request,omitempty"`
	// RequestedAt is Request.RequestedAt.
	RequestedAt *time.Time `json:"requested_at,omitempty"`
	// Traceparent is Request.Traceparent.
	Traceparent string `json:"traceparent,omitempty"`
}

// encode returns m as encoding/json writes it: directly when its values
// are plain (see plainjson), through encoding/json otherwise.
func (m metadata) encode() ([]byte, error) {
	if b, ok := m.appendJSON(make([]byte, 0, 256)); ok {
		return b, nil
	}
	return json.Marshal(m)
}

// appendJSON appends m as encoding/json writes it, or reports false for a
// value outside plainjson's shape.
func (m metadata) appendJSON(b []byte) ([]byte, bool) {
	w := plainjson.New(b)
	m.Metadata.WriteJSON(&w)
	w.OptStr("idempotency_key", m.IdempotencyKey)
	w.OptStr("request_fingerprint", m.Fingerprint)
	if m.Events != 0 {
		w.Key("command_events", false)
		w.Int(int64(m.Events))
	}
	w.OptStr("request_id", m.RequestID)
	w.OptStr("actor", m.Actor)
	w.OptStr("request", m.Request)
	if m.RequestedAt != nil {
		w.Key("requested_at", false)
		w.Time(*m.RequestedAt)
	}
	w.OptStr("traceparent", m.Traceparent)
	return w.End()
}

// idNamespace roots the derived event and order IDs.
var idNamespace = uuid.MustParse("6f1d3c52-8a0e-4b7e-9d51-2c4a7f0e9b13")

func eventID(stream, key string, i int) uuid.UUID {
	return uuid.NewSHA1(idNamespace, fmt.Appendf(nil, "%s\x00%s\x00%d", stream, key, i))
}

// OrderIDForKey derives the order ID for a place-order request that names no
// ID, so that a retry with the same idempotency key places the same order.
func OrderIDForKey(key string) string {
	return uuid.NewSHA1(idNamespace, []byte("order\x00"+key)).String()
}

// Place places a new order.
func (s *Service) Place(ctx context.Context, cmd domain.PlaceOrder, req Request) (Result, error) {
	if cmd.ID == "" {
		if req.IdempotencyKey != "" {
			cmd.ID = OrderIDForKey(req.IdempotencyKey)
		} else {
			// Time-ordered IDs keep new streams together at the end of the
			// store's stream index instead of scattering them.
			id, err := uuid.NewV7()
			if err != nil {
				return Result{}, fmt.Errorf("new order ID: %w", err)
			}
			cmd.ID = id.String()
		}
	}
	if err := domain.ValidID(cmd.ID); err != nil {
		return Result{}, err
	}
	cmd.ReserveStock = s.reserve
	return s.Execute(ctx, cmd.ID, cmd, req)
}

// Execute runs cmd on the order with the given ID: load, decide, append.
func (s *Service) Execute(ctx context.Context, orderID string, cmd domain.Command, req Request) (Result, error) {
	if err := domain.ValidID(orderID); err != nil {
		return Result{}, err
	}
	ctx, done := s.expect(ctx)
	defer done()
	_, place := cmd.(domain.PlaceOrder)
	blind := place && req.IdempotencyKey == "" && req.IfMatch == nil
	req = withRequestID(req)
	res, err := retry(ctx, s, domain.OrderStream(orderID), func(attempt int) (Result, error) {
		var res Result
		var err error
		if blind && attempt == 1 {
			res, err = s.placeBlind(ctx, orderID, cmd, req)
			if errors.Is(err, eventstore.ErrWrongExpectedVersion) {
				// The stream exists: the full cycle below reports why.
				res, err = s.attempt(ctx, orderID, cmd, req)
			}
		} else {
			res, err = s.attempt(ctx, orderID, cmd, req)
		}
		if req.IfMatch != nil && errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			var ve *eventstore.VersionError
			actual := *req.IfMatch
			if errors.As(err, &ve) {
				actual = ve.Actual
			}
			return Result{}, &VersionMismatchError{Expected: *req.IfMatch, Actual: actual}
		}
		return res, err
	})
	if err == nil && !res.Replayed {
		res.RequestID = req.RequestID
	}
	return res, err
}

// expect announces the command's append to a store that commits in groups
// (see eventstore.GroupCommitter), so that a commit under way may wait for
// it; done withdraws it if no append follows.
func (s *Service) expect(ctx context.Context) (context.Context, func()) {
	if gc, ok := s.store.(eventstore.GroupCommitter); ok {
		return gc.Expect(ctx)
	}
	return ctx, func() {}
}

// withRequestID gives req an ID if the caller named none.
func withRequestID(req Request) Request {
	if req.RequestID == "" {
		req.RequestID = uuid.NewString()
	}
	return req
}

// retry runs attempt (numbered from 1) under the stripe lock of stream
// until it ends in anything but a version conflict, at most MaxAttempts
// times. Each attempt reads the stream and appends with the version it
// read, so a conflict means that a writer in another process (a replica)
// moved the stream in between; the next attempt sees what it wrote.
func retry[T any](ctx context.Context, s *Service, stream string, attempt func(n int) (T, error)) (T, error) {
	var zero T
	unlock, err := s.lock(ctx, stream)
	if err != nil {
		return zero, err
	}
	defer unlock()
	var lastErr error
	for n := 1; n <= MaxAttempts; n++ {
		res, err := attempt(n)
		if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			return res, err
		}
		lastErr = err
		s.logger.Debug("version conflict, retrying", "stream", stream, "attempt", n)
	}
	return zero, fmt.Errorf("%w: %d attempts: %w", ErrConflict, MaxAttempts, lastErr)
}

// confirm reads back the last event an append with an idempotency key
// reported: it must carry the same request fingerprint (else the key was
// reused for another request), and it tells whether this call wrote it or
// the store answered with the events of an earlier call with the key.
func (s *Service) confirm(ctx context.Context, stream string, res eventstore.AppendResult, req Request, requestID string) (replayed bool, err error) {
	recorded, err := s.store.ReadStream(ctx, stream, res.Version, 1)
	if err != nil {
		return false, fmt.Errorf("confirm %s: %w", stream, err)
	}
	if len(recorded) != 1 {
		return false, fmt.Errorf("confirm %s: no event at version %d", stream, res.Version)
	}
	var meta metadata
	if err := json.Unmarshal(recorded[0].Metadata, &meta); err != nil {
		return false, fmt.Errorf("confirm %s: metadata of event %d: %w", stream, res.Version, err)
	}
	if meta.Fingerprint != req.Fingerprint {
		return false, fmt.Errorf("%w: key %q", ErrIdempotencyKeyReused, req.IdempotencyKey)
	}
	return meta.RequestID != requestID, nil
}

// placeBlind places a new order without reading its stream first: a new
// order's stream is empty, and appending with NoStream proves it. If the
// stream exists after all, the append fails with a version error and
// nothing is written. (Not for idempotent requests: a retry must replay
// the recorded outcome, which needs the read.)
func (s *Service) placeBlind(ctx context.Context, orderID string, cmd domain.Command, req Request) (Result, error) {
	events, err := domain.Decide(domain.Order{}, cmd, s.now())
	if err != nil {
		return Result{}, err
	}
	res, _, err := s.appendAfter(ctx, domain.OrderStream(orderID), eventstore.NoVersion, events, req)
	if err != nil {
		return Result{}, err
	}
	return Result{Order: domain.Fold(events), Version: res.Version, Position: res.Position}, nil
}

// attempt is one load-decide-append cycle.
func (s *Service) attempt(ctx context.Context, orderID string, cmd domain.Command, req Request) (Result, error) {
	stream := domain.OrderStream(orderID)
	recorded, err := s.read(ctx, stream)
	if err != nil {
		return Result{}, err
	}
	if req.IdempotencyKey != "" {
		if done, err := findKeyed(recorded, stream, req); done != nil || err != nil {
			return replayOrder(done, stream, err)
		}
	}
	version := lastVersion(recorded)
	// If-Match on an order that does not exist is left to Decide (404).
	if req.IfMatch != nil && *req.IfMatch != version && version != eventstore.NoVersion {
		return Result{}, &VersionMismatchError{Expected: *req.IfMatch, Actual: version}
	}
	order, err := fold(recorded)
	if err != nil {
		return Result{}, fmt.Errorf("load %s: %w", stream, err)
	}
	events, err := domain.Decide(order, cmd, s.now())
	if err != nil {
		if errors.Is(err, domain.ErrOrderNotFound) || errors.Is(err, domain.ErrOrderExists) {
			return Result{}, fmt.Errorf("order %s: %w", orderID, err)
		}
		return Result{}, err
	}
	res, done, err := s.appendAfter(ctx, stream, version, events, req)
	if err != nil || done != nil {
		return replayOrder(done, stream, err)
	}
	for _, e := range events {
		order = domain.Evolve(order, e)
	}
	return Result{Order: order, Version: res.Version, Position: res.Position}, nil
}

// appendAfter appends events to stream, whose last event as the caller
// read it has the given version (NoVersion: the stream was empty). With
// an idempotency key, the store may answer with the events of an earlier
// call with the key, recorded at that very place (a retry that raced the
// first attempt): then done is the stream as recorded up to that call's
// last event, to answer its outcome instead of this call's decision.
func (s *Service) appendAfter(ctx context.Context, stream string, version int64, events []domain.Event, req Request) (_ eventstore.AppendResult, done []eventstore.RecordedEvent, _ error) {
	expected := eventstore.Exact(version)
	if version == eventstore.NoVersion {
		expected = eventstore.NoStream
	}
	res, requestID, err := s.append(ctx, stream, expected, events, req)
	if err != nil || req.IdempotencyKey == "" {
		return res, nil, err
	}
	replayed, err := s.confirm(ctx, stream, res, req, requestID)
	if err != nil || !replayed {
		return res, nil, err
	}
	recorded, err := s.read(ctx, stream)
	if err != nil {
		return res, nil, err
	}
	if done, err = findKeyed(recorded, stream, req); done == nil && err == nil {
		err = fmt.Errorf("replay %s: the recorded attempt of key %q is not in the stream", stream, req.IdempotencyKey)
	}
	return res, done, err
}

// read returns the events of a stream, none if it has none.
func (s *Service) read(ctx context.Context, stream string) ([]eventstore.RecordedEvent, error) {
	recorded, err := s.store.ReadStream(ctx, stream, 0, 0)
	if errors.Is(err, eventstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", stream, err)
	}
	return recorded, nil
}

// lastVersion returns the version of the last of recorded, NoVersion if
// there are none.
func lastVersion(recorded []eventstore.RecordedEvent) int64 {
	if len(recorded) == 0 {
		return eventstore.NoVersion
	}
	return recorded[len(recorded)-1].Version
}

// fold decodes the events of an order stream into the order.
func fold(recorded []eventstore.RecordedEvent) (domain.Order, error) {
	var order domain.Order
	for _, r := range recorded {
		e, err := domain.Decode(r.Type, r.Data)
		if err != nil {
			return domain.Order{}, fmt.Errorf("event %d: %w", r.Version, err)
		}
		order = domain.Evolve(order, e)
	}
	return order, nil
}

// findKeyed looks in recorded for the events of an earlier request with
// req's key. It returns recorded up to that request's last event, nil if
// the key is not there, and ErrIdempotencyKeyReused if the key was used
// for another request.
func findKeyed(recorded []eventstore.RecordedEvent, stream string, req Request) ([]eventstore.RecordedEvent, error) {
	first := eventID(stream, req.IdempotencyKey, 0)
	for i, r := range recorded {
		if r.ID != first {
			continue
		}
		var meta metadata
		if err := json.Unmarshal(r.Metadata, &meta); err != nil {
			return nil, fmt.Errorf("replay %s: metadata of event %d: %w", stream, r.Version, err)
		}
		if meta.Fingerprint != req.Fingerprint {
			return nil, fmt.Errorf("%w: key %q", ErrIdempotencyKeyReused, req.IdempotencyKey)
		}
		last := i + max(meta.Events, 1) - 1
		if last >= len(recorded) {
			return nil, fmt.Errorf("replay %s: command recorded %d events from version %d, stream ends first", stream, meta.Events, r.Version)
		}
		return recorded[:last+1], nil
	}
	return nil, nil
}

// replayOrder answers the outcome of an earlier request that findKeyed or
// appendAfter found (done: the order stream up to its last event), or err.
func replayOrder(done []eventstore.RecordedEvent, stream string, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	order, err := fold(done)
	if err != nil {
		return Result{}, fmt.Errorf("replay %s: %w", stream, err)
	}
	last := done[len(done)-1]
	return Result{Order: order, Version: last.Version, Position: last.Position, Replayed: true,
		RequestID: causationOf(last)}, nil
}

// causationOf returns the causation_id in an event's metadata, "" if it
// has none.
func causationOf(e eventstore.RecordedEvent) string {
	var meta domain.Metadata
	if json.Unmarshal(e.Metadata, &meta) != nil {
		return ""
	}
	return meta.CausationID
}

// append encodes and appends events with their metadata.
func (s *Service) append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events []domain.Event, req Request) (res eventstore.AppendResult, requestID string, err error) {
	causation := req.RequestID
	if req.IdempotencyKey != "" {
		requestID = uuid.NewString()
	}
	traceparent := req.Traceparent
	if s.tracer != nil {
		var span trace.Span
		ctx, span = s.tracer.Start(ctx, "eventstore.append", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("orderstore.stream", stream), attribute.Int("orderstore.events", len(events))))
		defer func() { endAppendSpan(span, res, err) }()
		sc := span.SpanContext()
		traceparent = "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
	}
	var requestedAt *time.Time
	if !req.RequestedAt.IsZero() {
		t := req.RequestedAt.UTC()
		requestedAt = &t
	}
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		typ, payload, err := domain.Encode(e)
		if err != nil {
			return eventstore.AppendResult{}, "", fmt.Errorf("encode %T: %w", e, err)
		}
		meta := metadata{Metadata: domain.Metadata{CorrelationID: req.CorrelationID, CausationID: causation, Schema: domain.SchemaVersion},
			Actor: req.Actor, Request: req.Name, RequestedAt: requestedAt, Traceparent: traceparent}
		id := uuid.New()
		if req.IdempotencyKey != "" {
			id = eventID(stream, req.IdempotencyKey, i)
			meta.IdempotencyKey = req.IdempotencyKey
			meta.RequestID = requestID
			meta.Fingerprint = req.Fingerprint
		}
		if i == 0 {
			meta.Events = len(events)
		}
		m, err := meta.encode()
		if err != nil {
			return eventstore.AppendResult{}, "", fmt.Errorf("encode metadata: %w", err)
		}
		data[i] = eventstore.EventData{ID: id, Type: typ, Data: payload, Metadata: m}
	}
	start := time.Now()
	res, err = s.store.Append(ctx, stream, expected, data...)
	if err != nil {
		return res, "", fmt.Errorf("append to %s: %w", stream, err)
	}
	if s.onAppend != nil {
		s.onAppend(time.Since(start), len(data))
	}
	return res, requestID, nil
}

// endAppendSpan records an append's outcome on its span.
func endAppendSpan(span trace.Span, res eventstore.AppendResult, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "append failed")
	} else {
		span.SetAttributes(attribute.Int64("orderstore.version", res.Version),
			attribute.String("orderstore.position", strconv.FormatUint(res.Position, 10)))
	}
	span.End()
}
