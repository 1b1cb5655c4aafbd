package events

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TracerName names the tracer of the event store's spans.
const TracerName = "github.com/failforward/failforward/internal/events"

// traceContext is the W3C Trace Context format the envelope's
// distributed-tracing extension carries.
var traceContext propagation.TraceContext

// startAppend starts the span of one append under the caller's span
// (the request's), through the global tracer provider: a no-op one
// unless tracing was set up.
func startAppend(ctx context.Context, aggregate, id string, n int) (context.Context, trace.Span) {
	return otel.Tracer(TracerName).Start(ctx, "append "+aggregate,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", AggregateFilter(aggregate, id)),
			attribute.Int("messaging.batch.message_count", n),
		))
}

// endAppend records the append's outcome on its span and ends it.
func endAppend(span trace.Span, res AppendResult, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "append failed")
	} else {
		span.SetAttributes(attribute.Int64("failforward.position.first", int64(res.FirstSequence)),
			attribute.Int64("failforward.position.last", int64(res.LastSequence)),
			attribute.Bool("failforward.duplicate", res.Duplicate))
	}
	span.End()
}

// traceOf returns the traceparent and tracestate of ctx's span, both
// empty when it has none (tracing off), so that no envelope carries a
// context that no trace backend knows.
func traceOf(ctx context.Context) (parent, state string) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return "", ""
	}
	c := propagation.MapCarrier{}
	traceContext.Inject(ctx, c)
	return c.Get("traceparent"), c.Get("tracestate")
}

// ContextWithTrace returns ctx carrying the trace context that e records
// (its traceparent and tracestate) as a remote parent, so that a
// consumer's span for the event joins the trace of the append that wrote
// it. Without a valid traceparent ctx comes back as it was.
func ContextWithTrace(ctx context.Context, e *Envelope) context.Context {
	if e.TraceParent == "" {
		return ctx
	}
	return traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": e.TraceParent, "tracestate": e.TraceState})
}
