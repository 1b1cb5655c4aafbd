package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/httpapi"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
	"github.com/failforward/failforward/internal/webhooks"
)

// contractAPI is the API over real parts: an embedded JetStream event
// store, the domain service, a SQLite read store that the projector
// keeps, and real HTTP on a free port, behind the authentication that
// cmd/api puts in front of it. Three tokens stand for the viewers that
// access control tells apart.
type contractAPI struct {
	store    *events.Store
	svc      *experiments.Service
	db       *readstore.DB
	api      *httpapi.Server
	handler  http.Handler
	registry *prometheus.Registry
	url      string
	// Bearer tokens: a member of growth, a viewer of platform only, a
	// lead who sees every team, and an admin.
	insider, outsider, lead, admin string
	// webhooks is the webhook engine, running until the test ends.
	webhooks *webhooks.Manager
}

// openParts starts the real parts an API serves from: an embedded
// JetStream event store, the domain service over it, and a migrated
// SQLite read store.
func openParts(tb testing.TB) (*nats.Conn, *events.Store, *experiments.Service, *readstore.DB) {
	tb.Helper()
	_, nc := natsembedtest.Start(tb)
	store, err := events.OpenStore(context.Background(), nc, events.StoreConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		tb.Fatal(err)
	}
	return nc, store, svc, readstoretest.Open(tb, readstore.SQLite)
}

func startContractAPI(t *testing.T, keepAlive time.Duration) *contractAPI {
	t.Helper()
	nc, store, svc, db := openParts(t)
	projection, err := readmodel.NewProjection(db.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	startProjector(t, nc, db, projection)
	f := &contractAPI{store: store, svc: svc, db: db, registry: prometheus.NewRegistry()}
	var file auth.File
	for _, u := range []struct {
		name  string
		role  experiments.Role
		teams []string
		token *string
	}{
		{"insider", experiments.RoleMember, []string{"growth"}, &f.insider},
		{"outsider", experiments.RoleViewer, []string{"platform"}, &f.outsider},
		{"lead", experiments.RoleLead, nil, &f.lead},
		{"admin", experiments.RoleAdmin, nil, &f.admin},
	} {
		token, entry, err := auth.NewToken(u.name, u.role, u.teams)
		if err != nil {
			t.Fatal(err)
		}
		*u.token = token
		file.Tokens = append(file.Tokens, entry)
	}
	tokens, err := auth.New(file)
	if err != nil {
		t.Fatal(err)
	}
	f.webhooks = startWebhooks(t, store)
	f.api, err = httpapi.New(httpapi.Config{
		Service: svc, Queries: readmodel.NewQueries(db), ReadStore: db, Events: store, Webhooks: f.webhooks,
		Registry: f.registry, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), StreamKeepAlive: keepAlive,
		MinPositionWait: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.handler = auth.Middleware(tokens, http.HandlerFunc(httpapi.Unauthorized), f.api)
	srv := httptest.NewServer(f.handler)
	// Cleanups run last first: streams end before the server waits for
	// its handlers.
	t.Cleanup(srv.Close)
	t.Cleanup(f.api.CloseStreams)
	f.url = srv.URL
	return f
}

// startWebhooks runs a webhook engine over store until the test ends.
func startWebhooks(t *testing.T, store *events.Store) *webhooks.Manager {
	t.Helper()
	m, err := webhooks.NewManager(context.Background(), webhooks.Config{
		Store: store, ServerKey: bytes.Repeat([]byte("k"), webhooks.MinServerKey), Visible: webhooks.StreamVisibility(store),
		AllowPrivateTargets: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("webhooks: %v", err)
		}
	})
	return m
}

// startProjector runs the projector over the stream into db until the
// test ends, as cmd/api does in embedded mode.
func startProjector(t *testing.T, nc *nats.Conn, db *readstore.DB, projection *readmodel.Projection) {
	t.Helper()
	p, err := projector.New(projector.Config{Conn: nc, DB: db, Applier: projection, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Errorf("projector: %v", err)
		}
	})
}

// project waits until the projector has applied every event written so
// far, and fails the test if it skipped any.
func (f *contractAPI) project(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	last, err := f.store.LastSequence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.db.WaitForPosition(wctx, last); err != nil {
		t.Fatal(err)
	}
	skipped, err := f.db.ListSkipped(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) > 0 {
		t.Fatalf("projection skipped %+v", skipped)
	}
}

// do sends one request as token and returns the response with its body
// read.
func (f *contractAPI) do(t *testing.T, method, path, token string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, b
}

// openStreams reports how many event streams the server is serving, from
// its own gauge.
func (f *contractAPI) openStreams(t *testing.T) float64 {
	t.Helper()
	mfs, err := f.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "http_event_streams_open" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no http_event_streams_open metric")
	return 0
}

// sseMessage is one server-sent event message as a client parses it.
type sseMessage struct {
	id, event, data string
	hasID           bool
}

// sseStream is an open GET /v1/events response, read by a goroutine that
// ends when the body is closed.
type sseStream struct {
	resp *http.Response
	msgs chan sseMessage
}

// openStream starts GET /v1/events?query as token, resuming after
// lastID when it is not empty, and fails the test unless it is accepted.
func (f *contractAPI) openStream(t *testing.T, token, query, lastID string) *sseStream {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.url+"/v1/events?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /v1/events?%s = %d %s: %s", query, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &sseStream{resp: resp, msgs: make(chan sseMessage, 1000)}
	go func() {
		defer close(s.msgs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				s.msgs <- m
				m = sseMessage{}
				continue
			}
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				m.id, m.hasID = value, true
			case "event":
				m.event = value
			case "data":
				m.data += value
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() { s.resp.Body.Close() }

// next returns the next message that carries an event, skipping
// retry, keep-alive and id-only messages.
func (s *sseStream) next(t *testing.T) sseMessage {
	t.Helper()
	for {
		m := s.nextAny(t)
		if m.data != "" {
			return m
		}
	}
}

// nextAny returns the next message of any kind.
func (s *sseStream) nextAny(t *testing.T) sseMessage {
	t.Helper()
	select {
	case m, ok := <-s.msgs:
		if !ok {
			t.Fatal("the event stream ended")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message from the event stream within 10s")
	}
	return sseMessage{}
}

// envelope decodes an event message's data.
func (m sseMessage) envelope(t *testing.T) events.Envelope {
	t.Helper()
	var env events.Envelope
	if err := json.Unmarshal([]byte(m.data), &env); err != nil {
		t.Fatalf("event %s data is not an envelope: %v", m.id, err)
	}
	return env
}

// waitUntil polls cond until it holds or ten seconds pass.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var testMeta = experiments.Meta{Actor: "tester"}
