package api

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// startSpan starts the server span of a request, a child of the client's
// traceparent if it sent a valid one, and makes its context the one the
// request's events record.
func (s *Server) startSpan(ctx context.Context, r *http.Request, ri *requestInfo) (context.Context, trace.Span) {
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(r.Header))
	ctx, span := s.cfg.Tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method),
			attribute.String("orderstore.correlation_id", ri.correlationID),
			attribute.String("orderstore.request_id", ri.requestID)))
	ri.traceparent = traceparent(span.SpanContext())
	return ctx, span
}

// endSpan names the span by its route, once routing has found it, and
// records the answer's status.
func endSpan(span trace.Span, r *http.Request, ri *requestInfo, status int) {
	span.SetName(r.Method + " " + ri.route)
	span.SetAttributes(attribute.String("http.route", ri.route), attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	if ri.err != nil {
		span.RecordError(ri.err)
	}
	span.End()
}

// traceparent renders a span context as a W3C traceparent header.
func traceparent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}
