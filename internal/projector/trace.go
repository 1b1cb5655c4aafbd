package projector

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/failforward/failforward/internal/events"
)

// tracerName names the tracer of the projector's spans.
const tracerName = "github.com/failforward/failforward/internal/projector"

// startApplySpans starts, for each event of a batch that records a trace
// context, a span for its apply as a child of the append that wrote it,
// so that the request, the append and the read model's update are one
// trace. The spans cover the batch's transaction, which is where each
// event takes effect. An event without a trace context (tracing was off
// when it was written, or it predates tracing) gets none, so an untraced
// stream costs nothing here, and neither does a projector configured
// Untraced (a rebuild).
func (h *batchHandler) startApplySpans(ctx context.Context, recs []events.Recorded) []trace.Span {
	if h.p.cfg.Untraced {
		return nil
	}
	var spans []trace.Span
	tracer := otel.Tracer(tracerName)
	for i := range recs {
		rec := &recs[i]
		if rec.TraceParent == "" {
			continue
		}
		_, span := tracer.Start(events.ContextWithTrace(ctx, &rec.Envelope), "apply "+rec.Type,
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.system", "nats"),
				attribute.String("messaging.operation.type", "process"),
				attribute.String("messaging.destination.name", rec.StreamSubject),
				attribute.String("messaging.message.id", rec.ID),
				attribute.Int64("failforward.position", int64(rec.Sequence)),
				attribute.Int("failforward.batch.size", len(recs))))
		spans = append(spans, span)
	}
	return spans
}

// endApplySpans ends the batch's spans with its outcome.
func endApplySpans(spans []trace.Span, err error) {
	for _, span := range spans {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "batch not applied")
		}
		span.End()
	}
}
