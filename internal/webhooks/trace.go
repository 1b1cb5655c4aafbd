package webhooks

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/failforward/failforward/internal/events"
)

// tracerName names the tracer of the delivery spans.
const tracerName = "github.com/failforward/failforward/internal/webhooks"

// startDelivery starts the span of one delivery attempt as a child of
// the event's trace context (the append that wrote it), so that a
// receiver's trouble shows in the trace of the request that caused the
// event.
func startDelivery(ctx context.Context, req request, subscription string, n int) (context.Context, trace.Span) {
	return otel.Tracer(tracerName).Start(events.ContextWithTrace(ctx, &req.rec.Envelope), "deliver "+req.name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", http.MethodPost),
			attribute.String("failforward.webhook.id", subscription),
			attribute.String("messaging.message.id", req.rec.ID),
			attribute.Int64("failforward.position", int64(req.rec.Sequence)),
			attribute.Int("http.request.resend_count", n-1)))
}

// traceRequest sends the attempt's trace context with it (traceparent),
// when tracing is on, so that a receiver can continue the trace.
func traceRequest(ctx context.Context, r *http.Request) {
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
}

// endDelivery records the attempt's outcome on its span and ends it.
func endDelivery(span trace.Span, a Attempt) {
	if a.StatusCode != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", a.StatusCode))
	}
	span.SetAttributes(attribute.String("failforward.webhook.outcome", string(a.Outcome)))
	if a.Outcome != OutcomeDelivered {
		span.SetStatus(codes.Error, a.Error)
	}
	span.End()
}
