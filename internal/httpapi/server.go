// Package httpapi serves failforward's HTTP API: commands that become
// events, and queries answered from the read models.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/webhooks"
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
	// MinPositionWait bounds how long a query with ?min_position, or the
	// event stream about to decide who may see an event, waits for the
	// projector; 5s when zero.
	MinPositionWait time.Duration
	// WritesPerSecond and WriteBurst limit each token's writes; 20 and 40
	// when zero.
	WritesPerSecond float64
	WriteBurst      int
	// Events is the event store GET /v1/events streams from; nil answers
	// that route with 503.
	Events EventSource
	// Webhooks is the webhook engine the /v1/webhooks routes manage; nil
	// answers them with 503.
	Webhooks *webhooks.Manager
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
	queries  *readmodel.Retrying
	db       *readstore.DB
	ready    func(context.Context) error
	log      *slog.Logger
	wait     time.Duration
	registry *prometheus.Registry
	mux      *http.ServeMux
	limits   *limiter
	stream   *eventStream
	webhooks *webhooks.Manager
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
		svc: cfg.Service, queries: readmodel.NewRetrying(cfg.Queries), db: cfg.ReadStore, ready: cfg.Ready,
		log: cfg.Logger, wait: cfg.MinPositionWait, registry: cfg.Registry, mux: http.NewServeMux(),
		limits: newLimiter(cfg.WritesPerSecond, cfg.WriteBurst), webhooks: cfg.Webhooks,
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
	s.Mount(s.mux)
	s.mux.HandleFunc("/", s.handleNotFound)
	return s, nil
}

// ServeHTTP serves the API's routes alone, answering any other path with
// a JSON 404. It authenticates nothing: a request's principal is the one
// auth.Middleware, in front of it, put in its context.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Mount registers every route of the API on mux, which may also serve
// the browser pages, each route with its metrics and its write limit.
func (s *Server) Mount(mux *http.ServeMux) {
	s.routes(router{s: s, mux: mux})
}

// router registers routes on a mux, each wrapped by instrument.
type router struct {
	s   *Server
	mux *http.ServeMux
}

// HandleFunc registers h for pattern.
func (rt router) HandleFunc(pattern string, h http.HandlerFunc) { rt.Handle(pattern, h) }

// Handle registers h for pattern.
func (rt router) Handle(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, rt.s.instrument(pattern, h))
}

// instrument serves route with h, refusing writes over their token's
// rate, and records the request's metrics.
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		if !s.rateLimited(sw, r) {
			h.ServeHTTP(sw, r)
		}
		s.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
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
	return auth.Meta(r, auth.PrincipalFrom(r.Context()))
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
		return experiments.Invalid("min_position", "must be a stream position (a whole number)")
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.wait)
	defer cancel()
	return s.db.WaitForPosition(ctx, pos)
}
