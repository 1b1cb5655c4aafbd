// Package httpapi serves failforward's HTTP API: commands that become
// events, and queries answered from the read models.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
)

// Config configures a Server.
type Config struct {
	// Service decides and appends commands. Required.
	Service *experiments.Service
	// Queries answers reads from the read models. Required.
	Queries *readmodel.Queries
	// ReadStore is the read-model database, for read-your-writes waits.
	// Required.
	ReadStore *readstore.DB
	// Ready reports whether the server can serve: the event store and the
	// read store are reachable. Nil means always ready.
	Ready func(ctx context.Context) error
	// Registry receives the API's metrics and is served on /metrics.
	// A new registry when nil.
	Registry *prometheus.Registry
	// Logger logs internal errors; slog.Default when nil.
	Logger *slog.Logger
	// MinPositionWait bounds how long a query with ?min_position waits for
	// the projector; 5s when zero.
	MinPositionWait time.Duration
	// UI serves every path the API does not, such as the browser pages.
	// Nil answers those with a JSON 404.
	UI http.Handler
	// Tokens authenticates requests. Nil serves every request as the
	// unrestricted local user (the api then listens on loopback only).
	Tokens *auth.Tokens
	// WritesPerSecond and WriteBurst limit each token's writes; 20 and 40
	// when zero.
	WritesPerSecond float64
	WriteBurst      int
	// Events is the event store GET /v1/events streams from; nil answers
	// that route with 503.
	Events EventSource
	// StreamKeepAlive is how often GET /v1/events writes to an idle
	// client, so that proxies keep the connection; 15s when zero.
	StreamKeepAlive time.Duration
}

func (c *Config) setDefaults() {
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MinPositionWait == 0 {
		c.MinPositionWait = 5 * time.Second
	}
	if c.WritesPerSecond == 0 {
		c.WritesPerSecond = 20
	}
	if c.WriteBurst == 0 {
		c.WriteBurst = 40
	}
	if c.Ready == nil {
		c.Ready = func(context.Context) error { return nil }
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Service == nil {
		errs = append(errs, errors.New("httpapi: Config.Service is required"))
	}
	if c.Queries == nil {
		errs = append(errs, errors.New("httpapi: Config.Queries is required"))
	}
	if c.ReadStore == nil {
		errs = append(errs, errors.New("httpapi: Config.ReadStore is required"))
	}
	return errors.Join(errs...)
}

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	svc      *experiments.Service
	queries  *readmodel.Queries
	db       *readstore.DB
	ready    func(context.Context) error
	log      *slog.Logger
	wait     time.Duration
	registry *prometheus.Registry
	mux      *http.ServeMux
	ui       http.Handler
	tokens   *auth.Tokens
	limits   *limiter
	stream   *eventStream
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		svc: cfg.Service, queries: cfg.Queries, db: cfg.ReadStore, ready: cfg.Ready,
		log: cfg.Logger, wait: cfg.MinPositionWait, registry: cfg.Registry, mux: http.NewServeMux(), ui: cfg.UI,
		tokens: cfg.Tokens, limits: newLimiter(cfg.WritesPerSecond, cfg.WriteBurst),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total", Help: "HTTP requests served, by route and status.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "http_request_duration_seconds", Help: "Time to serve an HTTP request, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	if err := errors.Join(cfg.Registry.Register(s.requests), cfg.Registry.Register(s.latency)); err != nil {
		return nil, err
	}
	stream, err := newEventStream(&cfg)
	if err != nil {
		return nil, err
	}
	s.stream = stream
	s.routes()
	return s, nil
}

// ServeHTTP serves one request and records its metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	r, ok := s.authenticate(sw, r)
	if ok && !s.rateLimited(sw, r) {
		s.mux.ServeHTTP(sw, r)
	}
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	s.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
	s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer, for
// flushing streamed responses.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) handleMetrics() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry})
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// meta collects a command's metadata from the request.
func (s *Server) meta(r *http.Request) (experiments.Meta, error) {
	m := experiments.Meta{
		Actor:          actorOf(r),
		Principal:      auth.PrincipalFrom(r.Context()),
		CorrelationID:  r.Header.Get("X-Correlation-Id"),
		CausationID:    r.Header.Get("X-Request-Id"),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
	}
	if len(m.IdempotencyKey) > 200 {
		return m, badRequest(string(experiments.CodeInvalid), "Idempotency-Key", "is longer than 200 characters")
	}
	if len(m.CorrelationID) > 200 || len(m.CausationID) > 200 {
		return m, badRequest(string(experiments.CodeInvalid), "X-Correlation-Id", "is longer than 200 characters")
	}
	if v := r.Header.Get("If-Match"); v != "" && v != "*" {
		n, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
		if err != nil {
			return m, badRequest(string(experiments.CodeInvalid), "If-Match", "must be an ETag this API gave out")
		}
		m.IfMatch = &n
	}
	return m, nil
}

func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

// awaitPosition honours ?min_position=N: it waits until the projector has
// applied N, so that a client reads its own writes.
func (s *Server) awaitPosition(r *http.Request) error {
	v := r.URL.Query().Get("min_position")
	if v == "" {
		return nil
	}
	pos, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return badRequest(string(experiments.CodeInvalid), "min_position", "must be a stream position (a whole number)")
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.wait)
	defer cancel()
	return s.db.WaitForPosition(ctx, pos)
}
