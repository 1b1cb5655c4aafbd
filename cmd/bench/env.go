package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/httpapi"
	"github.com/failforward/failforward/internal/natsembed"
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
)

// broker is an embedded JetStream server with the event stream on it, as
// the api starts it in embedded mode, and a connection to it.
type broker struct {
	srv *natsembed.Server
	nc  *nats.Conn
	url string
}

// startBroker starts a JetStream server on a free port with its store in
// a new directory under dir, and creates the event stream.
func startBroker(ctx context.Context, dir string) (*broker, error) {
	store, err := os.MkdirTemp(dir, "jetstream-")
	if err != nil {
		return nil, err
	}
	srv, err := natsembed.Start(natsembed.Config{StoreDir: store, Port: -1, ServerName: "bench"})
	if err != nil {
		return nil, err
	}
	// The api's connection options: a short sync queue keeps aggregate
	// loads fast (see events.Store).
	nc, err := nats.Connect(srv.ClientURL(), nats.Name("failforward-bench"), nats.SyncQueueLen(256))
	if err != nil {
		srv.Shutdown()
		return nil, err
	}
	if _, err := events.OpenStore(ctx, nc, events.StoreConfig{}); err != nil {
		nc.Close()
		srv.Shutdown()
		return nil, err
	}
	return &broker{srv: srv, nc: nc, url: srv.ClientURL()}, nil
}

func (b *broker) close() {
	b.nc.Close()
	b.srv.Shutdown()
}

// postgres creates databases on the server DATABASE_URL names, one per
// use, and drops every one of them when closed, as readstoretest does for
// tests.
type postgres struct {
	base    string
	admin   *sqlx.DB
	mu      sync.Mutex
	created []string
}

func openPostgres(ctx context.Context, base string) (*postgres, error) {
	admin, err := sqlx.Open("postgres", base)
	if err != nil {
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return nil, fmt.Errorf("connect to DATABASE_URL: %w", err)
	}
	return &postgres{base: base, admin: admin}, nil
}

// create makes a new, empty database and returns its URL.
func (p *postgres) create(ctx context.Context) (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	name := "ff_bench_" + hex.EncodeToString(b)
	if _, err := p.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	p.mu.Lock()
	p.created = append(p.created, name)
	p.mu.Unlock()
	u, err := url.Parse(p.base)
	if err != nil {
		return "", fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// drop removes the database of u, which create returned.
func (p *postgres) drop(u string) {
	parsed, err := url.Parse(u)
	if err != nil {
		return
	}
	name := parsed.Path[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err == nil {
		p.mu.Lock()
		p.created = slices.DeleteFunc(p.created, func(n string) bool { return n == name })
		p.mu.Unlock()
	}
}

// close drops every database create made.
func (p *postgres) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, name := range p.created {
		_, _ = p.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	p.admin.Close()
}

// freshStore returns the URL of a new, empty read store of dialect:
// a database on the Postgres server, or a file in the run's directory.
func (b *bench) freshStore(ctx context.Context, dialect readstore.Dialect) (string, error) {
	if dialect == readstore.Postgres {
		if b.pg == nil {
			return "", errors.New("DATABASE_URL is not set")
		}
		return b.pg.create(ctx)
	}
	f, err := os.CreateTemp(b.dir, "read-*.db")
	if err != nil {
		return "", err
	}
	f.Close()
	return "sqlite:" + f.Name(), nil
}

// dropStore removes a read store freshStore made, when a scenario is done
// with it, so that a long run does not pile up gigabytes of them.
func (b *bench) dropStore(u string) {
	if path, ok := sqlitePath(u); ok {
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			_ = os.Remove(p)
		}
		return
	}
	if b.pg != nil {
		b.pg.drop(u)
	}
}

func sqlitePath(u string) (string, bool) {
	path, ok := strings.CutPrefix(u, "sqlite:")
	return filepath.Clean(path), ok && path != ""
}

// openStore opens and migrates the read store at u.
func openStore(ctx context.Context, u string) (*readstore.DB, error) {
	db, err := readstore.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// api is the HTTP API wired as cmd/api wires it, on a loopback port, and
// optionally the projector in-process beside it, as in embedded mode.
type api struct {
	base   string
	nc     *nats.Conn
	srv    *http.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// projector is nil unless the api runs one; metrics holds its
	// metrics.
	projector *projector.Projector
	projErr   error
	metrics   *prometheus.Registry
	// errs holds the first errors the API and the projector logged.
	errs *errorLog
}

// errorLog keeps the first few lines logged to it.
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) < 5 {
		l.lines = append(l.lines, strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// first returns the first line logged, or "" when none was.
func (l *errorLog) first() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return ""
	}
	return l.lines[0]
}

// startAPI serves the API over the stream at natsURL and the read store
// db, with no AUTH_FILE (every request is the local admin, and writes are
// not rate-limited), and with the projector in-process when withProjector
// is set. It has a NATS connection of its own, made as cmd/api makes it.
func startAPI(ctx context.Context, natsURL string, db *readstore.DB, withProjector bool) (a *api, err error) {
	nc, err := nats.Connect(natsURL, nats.Name("failforward-api"), nats.MaxReconnects(-1), nats.SyncQueueLen(256))
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	store, err := events.OpenStore(ctx, nc, events.StoreConfig{})
	if err != nil {
		return nil, err
	}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		return nil, err
	}
	// Only errors are kept: the API logs an internal error (a 500) with
	// its cause, which the figures then show.
	errs := &errorLog{}
	logger := slog.New(slog.NewTextHandler(errs, &slog.HandlerOptions{Level: slog.LevelError}))
	h, err := httpapi.New(httpapi.Config{
		Service: svc, Queries: readmodel.NewQueries(db), ReadStore: db, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	a = &api{
		base:   "http://" + ln.Addr().String(),
		nc:     nc,
		errs:   errs,
		srv:    &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
		cancel: cancel,
	}
	if withProjector {
		projection, err := readmodel.NewProjection(db.Dialect)
		if err != nil {
			cancel()
			ln.Close()
			return nil, err
		}
		a.metrics = prometheus.NewRegistry()
		a.projector, err = projector.New(projector.Config{
			Conn: nc, DB: db, Applier: projection, Registerer: a.metrics, Logger: logger,
		})
		if err != nil {
			cancel()
			ln.Close()
			return nil, err
		}
		a.wg.Go(func() { a.projErr = a.projector.Run(runCtx) })
	}
	a.wg.Go(func() { _ = a.srv.Serve(ln) })
	return a, nil
}

// close stops the server and the projector, and reports a projector that
// halted on its own.
func (a *api) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = a.srv.Shutdown(ctx)
	a.cancel()
	a.wg.Wait()
	a.nc.Close()
	return a.projErr
}

// newClient returns an HTTP client that keeps a connection per concurrent
// caller, as a pool of clients of the API would.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// batches sums the projector's batch histograms in reg: how many batches
// it committed, the time they took to apply and commit, and the events in
// them.
type batches struct {
	Count   uint64  `json:"batches"`
	Seconds float64 `json:"batch_seconds"`
	Events  float64 `json:"batch_events"`
}

func batchesOf(reg prometheus.Gatherer) batches {
	var b batches
	mfs, err := reg.Gather()
	if err != nil {
		return b
	}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		switch mf.GetName() {
		case "projector_batch_duration_seconds":
			b.Count, b.Seconds = h.GetSampleCount(), h.GetSampleSum()
		case "projector_batch_size":
			b.Events = h.GetSampleSum()
		}
	}
	return b
}

// minus is what was committed since earlier.
func (b batches) minus(earlier batches) batches {
	return batches{Count: b.Count - earlier.Count, Seconds: b.Seconds - earlier.Seconds, Events: b.Events - earlier.Events}
}

// String describes the batches in a figure's note.
func (b batches) String() string {
	if b.Count == 0 {
		return "no batches"
	}
	return fmt.Sprintf("%s batches of %.0f events on average, %.1fms each to apply and commit (%.1fs in all)",
		thousands(float64(b.Count)), b.Events/float64(b.Count), 1000*b.Seconds/float64(b.Count), b.Seconds)
}
