package httpapi

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/failforward/failforward/internal/auth"
)

// tracerName names the tracer of the HTTP server's spans.
const tracerName = "github.com/failforward/failforward/internal/httpapi"

// Observe wraps next, the whole site's handler, so that every request
// has an id and a span and ends in one log line. The id is the client's
// valid X-Request-Id or X-Correlation-Id, else a new one
// (auth.RequestID); it is sent back as X-Request-Id and put in the
// request's context, where auth.Meta makes it the correlation id of the
// events a command writes and a telemetry.LogHandler adds it to every
// line logged with the context. The span continues the client's trace
// (traceparent) when tracing is on, and is named for the route that
// routes matches, as is the log line: method, route, status, duration.
// The route is the pattern's path ("/v1/experiments/{id}"), which
// OpenTelemetry's http.route and a dashboard group by; the method is
// beside it.
func Observe(log *slog.Logger, routes *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := auth.RequestID(r)
		w.Header().Set("X-Request-Id", id)
		route := routeOf(routes, r)
		name := strings.TrimSpace(r.Method + " " + route)
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := otel.Tracer(tracerName).Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method),
				attribute.String("http.route", route), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		ctx = auth.WithRequestID(ctx, id)

		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r.WithContext(ctx))

		span.SetAttributes(attribute.Int("http.response.status_code", sw.status))
		if sw.status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(sw.status))
		}
		log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", r.Method), slog.String("route", route),
			slog.String("path", r.URL.Path), slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
	})
}

// routeOf returns the path of the pattern that routes matches for r,
// without its method: "" for a request no route takes.
func routeOf(routes *http.ServeMux, r *http.Request) string {
	_, pattern := routes.Handler(r)
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}
