package projections

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/orderstore/orderstore/eventstore"
)

// maxLinks bounds the links of one batch span: a batch of a thousand
// events from a thousand requests links to the first ones.
const maxLinks = 128

// startBatchSpan starts the span of a live batch, a root of its own
// (consumers run on their own time) linked to the spans that wrote the
// batch's events.
func (r *runner) startBatchSpan(ctx context.Context, events []eventstore.RecordedEvent) (context.Context, trace.Span) {
	var links []trace.Link
	seen := map[trace.SpanID]bool{}
	for _, e := range events {
		if len(links) == maxLinks {
			break
		}
		sc, ok := writerSpan(e.Metadata)
		if ok && !seen[sc.SpanID()] {
			seen[sc.SpanID()] = true
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	return r.tracer.Start(ctx, "projection "+r.p.Name()+" batch", trace.WithSpanKind(trace.SpanKindConsumer), trace.WithNewRoot(),
		trace.WithLinks(links...), trace.WithAttributes(attribute.String("orderstore.projection", r.p.Name()),
			attribute.Int("orderstore.events", len(events)),
			attribute.String("orderstore.first_position", strconv.FormatUint(events[0].Position, 10)),
			attribute.String("orderstore.last_position", strconv.FormatUint(events[len(events)-1].Position, 10))))
}

func endBatchSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "batch failed")
	}
	span.End()
}

// writerSpan reads the traceparent an event's metadata records: the span
// that wrote it.
func writerSpan(metadata []byte) (trace.SpanContext, bool) {
	if !bytes.Contains(metadata, []byte(`"traceparent"`)) {
		return trace.SpanContext{}, false
	}
	var m struct {
		Traceparent string `json:"traceparent"`
	}
	if json.Unmarshal(metadata, &m) != nil || len(m.Traceparent) < 55 {
		return trace.SpanContext{}, false
	}
	tp := m.Traceparent
	tid, err1 := trace.TraceIDFromHex(tp[3:35])
	sid, err2 := trace.SpanIDFromHex(tp[36:52])
	flags, err3 := strconv.ParseUint(tp[53:55], 16, 8)
	if err1 != nil || err2 != nil || err3 != nil {
		return trace.SpanContext{}, false
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(flags), Remote: true})
	return sc, sc.IsValid()
}
