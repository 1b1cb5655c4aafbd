package telemetry_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/httpapi"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/telemetry"
	"github.com/failforward/failforward/internal/webhooks"
)

// TestOneTraceAcrossTheEvent sends one command through the real parts
// (HTTP API, embedded JetStream, projector over SQLite, webhook delivery
// to a receiver on loopback) and checks that the request, the append,
// the projector's apply and the delivery are spans of one trace, each a
// child of the one before it, and that the receiver was sent the
// delivery's traceparent.
func TestOneTraceAcrossTheEvent(t *testing.T) {
	exporter := installTracing(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, nc := natsembedtest.Start(t)
	store, err := events.OpenStore(ctx, nc, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	db := startProjector(ctx, t, srv.ClientURL())
	traceparents := make(chan string, 10)
	startWebhooks(ctx, t, store, func(r *http.Request) { traceparents <- r.Header.Get("traceparent") })
	api := startAPI(t, store, db)

	resp, err := http.Post(api+"/v1/experiments", "application/json",
		strings.NewReader(`{"team":"growth","title":"traced","hypothesis":"h"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register = %d", resp.StatusCode)
	}
	want := []string{"POST /v1/experiments", "append experiment",
		"apply failforward.experiment.registered.v1", "deliver experiment.registered"}
	spans := awaitSpans(t, exporter, want)

	request, appended, applied, delivered := spans[0], spans[1], spans[2], spans[3]
	for _, s := range spans[1:] {
		if s.SpanContext.TraceID() != request.SpanContext.TraceID() {
			t.Errorf("span %q is in trace %s, want the request's %s", s.Name, s.SpanContext.TraceID(), request.SpanContext.TraceID())
		}
	}
	parents := []struct{ child, parent tracetest.SpanStub }{{appended, request}, {applied, appended}, {delivered, appended}}
	for _, p := range parents {
		if p.child.Parent.SpanID() != p.parent.SpanContext.SpanID() {
			t.Errorf("span %q has parent %s, want %q (%s)", p.child.Name, p.child.Parent.SpanID(), p.parent.Name, p.parent.SpanContext.SpanID())
		}
	}
	kinds := map[string]trace.SpanKind{request.Name: trace.SpanKindServer, appended.Name: trace.SpanKindProducer,
		applied.Name: trace.SpanKindConsumer, delivered.Name: trace.SpanKindClient}
	for _, s := range spans {
		if s.SpanKind != kinds[s.Name] {
			t.Errorf("span %q is of kind %s, want %s", s.Name, s.SpanKind, kinds[s.Name])
		}
	}
	wantHeader := fmt.Sprintf("00-%s-%s-01", delivered.SpanContext.TraceID(), delivered.SpanContext.SpanID())
	if got := <-traceparents; got != wantHeader {
		t.Errorf("receiver got traceparent %q, want the delivery's %q", got, wantHeader)
	}
}

// installTracing makes the global tracer provider record every span in
// memory for the test, as telemetry.Setup would install an exporting
// one.
func installTracing(t *testing.T) *tracetest.InMemoryExporter {
	t.Helper()
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
	return exporter
}

// awaitSpans polls the exporter until it holds a span of each name and
// returns them in that order.
func awaitSpans(t *testing.T, exporter *tracetest.InMemoryExporter, names []string) []tracetest.SpanStub {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		byName := map[string]tracetest.SpanStub{}
		for _, s := range exporter.GetSpans() {
			if _, ok := byName[s.Name]; !ok {
				byName[s.Name] = s
			}
		}
		out := make([]tracetest.SpanStub, 0, len(names))
		for _, n := range names {
			if s, ok := byName[n]; ok {
				out = append(out, s)
			}
		}
		if len(out) == len(names) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("spans %v never all ended; got %v", names, byName)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startProjector migrates a SQLite read store and runs the projector
// into it, on its own connection, until ctx ends.
func startProjector(ctx context.Context, t *testing.T, natsURL string) *readstore.DB {
	t.Helper()
	db, err := readstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "read.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	projection, err := readmodel.NewProjection(db.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	p, err := projector.New(projector.Config{Conn: nc, DB: db, Applier: projection, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	goUntilCleanup(ctx, t, "projector", p.Run)
	return db
}

// startWebhooks runs a webhook manager with one subscription to
// experiment.registered, delivering to a receiver on loopback that
// calls got with each request.
func startWebhooks(ctx context.Context, t *testing.T, store *events.Store, got func(*http.Request)) {
	t.Helper()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got(r)
	}))
	t.Cleanup(receiver.Close)
	m, err := webhooks.NewManager(ctx, webhooks.Config{
		Store: store, ServerKey: []byte("0123456789abcdef0123456789abcdef"), Visible: webhooks.StreamVisibility(store),
		AllowPrivateTargets: true, AttemptTimeout: 5 * time.Second, AckWait: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Create(ctx, experiments.Meta{Actor: "local"}, webhooks.CreateInput{
		Team: "growth", TargetURL: receiver.URL, Events: []string{events.ExperimentRegistered}, AllowPlainHTTP: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	goUntilCleanup(ctx, t, "webhooks", m.Run)
}

// startAPI serves the API behind httpapi.Observe, as cmd/api does, and
// returns its base URL.
func startAPI(t *testing.T, store *events.Store, db *readstore.DB) string {
	t.Helper()
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Config{Service: svc, Queries: readmodel.NewQueries(db), ReadStore: db, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	api.Mount(mux)
	srv := httptest.NewServer(httpapi.Observe(quiet(), mux, mux))
	t.Cleanup(srv.Close)
	return srv.URL
}

// goUntilCleanup runs run(ctx) until the test ends, and checks that it
// stopped cleanly.
func goUntilCleanup(ctx context.Context, t *testing.T, what string, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("%s: %v", what, err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func quiet() *slog.Logger {
	return slog.New(telemetry.LogHandler(slog.NewTextHandler(io.Discard, nil)))
}
