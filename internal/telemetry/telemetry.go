// Package telemetry sets up failforward's traces and the context its log
// lines carry: OpenTelemetry tracing configured by the standard OTEL_*
// environment variables, exported over OTLP/HTTP, and a slog handler that
// adds the request id and the trace to every record logged with a
// request's context.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Enabled reports whether the environment asks for traces: an OTLP
// endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
// or OTEL_TRACES_EXPORTER=otlp is set, and OTEL_SDK_DISABLED is not true
// and OTEL_TRACES_EXPORTER is not none. An exporter or protocol other
// than OTLP over HTTP is an error, not silently ignored. With none of
// them set tracing is off: no exporter runs and the global tracer stays
// a no-op.
func Enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	on := getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return false, nil
	case "otlp":
		on = true
	case "":
	default:
		return false, fmt.Errorf("OTEL_TRACES_EXPORTER=%s is not supported: use otlp (OTLP over HTTP) or none", exp)
	}
	if !on {
		return false, nil
	}
	name := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	proto := getenv(name)
	if proto == "" {
		name = "OTEL_EXPORTER_OTLP_PROTOCOL"
		proto = getenv(name)
	}
	if proto != "" && proto != "http/protobuf" {
		return false, fmt.Errorf("%s=%s is not supported: traces are exported as http/protobuf", name, proto)
	}
	return on, nil
}

// Setup installs the global tracer provider and the W3C Trace Context
// propagator when the environment asks for traces (see Enabled), naming
// the process service unless OTEL_SERVICE_NAME names it. The SDK reads
// the other variables itself: the endpoint, headers, timeout and
// protocol (OTEL_EXPORTER_OTLP_*), the sampler (OTEL_TRACES_SAMPLER and
// its argument, parent-based always-on by default), the batch settings
// (OTEL_BSP_*) and resource attributes (OTEL_RESOURCE_ATTRIBUTES).
//
// shutdown flushes the spans still buffered, for up to shutdownTimeout,
// and stops the exporter, logging to log what it could not send; the
// caller runs it on exit. With tracing off, Setup installs nothing and
// shutdown does nothing.
func Setup(ctx context.Context, service string, getenv func(string) string, log *slog.Logger) (shutdown func(), err error) {
	on, err := Enabled(getenv)
	if err != nil || !on {
		return func() {}, err
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("set up the OTLP trace exporter: %w", err)
	}
	// Later sources win: the environment's service name over ours.
	res, err := resource.Merge(resource.Default(),
		resource.NewSchemaless(attribute.String("service.name", service)))
	if err == nil {
		res, err = resource.Merge(res, envResource(ctx))
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("describe the service for traces: %w", err), exporter.Shutdown(ctx))
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	log.Info("tracing: exporting spans over OTLP/HTTP")
	return func() {
		// The process's context is over by now; the flush gets its own.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("tracing: spans not exported at shutdown", slog.Any("err", err))
		}
	}, nil
}

// shutdownTimeout bounds the flush of buffered spans on exit, so that an
// unreachable collector cannot hold a stopping process.
const shutdownTimeout = 5 * time.Second

// envResource is what OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
// say; a malformed attribute list is the SDK's to report, and the rest
// is still used.
func envResource(ctx context.Context) *resource.Resource {
	res, _ := resource.New(ctx, resource.WithFromEnv())
	if res == nil {
		return resource.Empty()
	}
	return res
}
