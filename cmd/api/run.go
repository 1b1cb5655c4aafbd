package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/healthcheck"
	"github.com/failforward/failforward/internal/httpapi"
	"github.com/failforward/failforward/internal/natsembed"
	"github.com/failforward/failforward/internal/profiling"
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/telemetry"
	"github.com/failforward/failforward/internal/web"
	"github.com/failforward/failforward/internal/webhooks"
)

// run starts the api and blocks until ctx ends or a part of it fails. It
// prints one line each for where the API listens, the event store and the
// read store.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "healthcheck":
			return healthcheck.Run(ctx, args[1:], "http://127.0.0.1:8080/readyz", stderr)
		case "token":
			return tokenCommand(args[1:], getenv, stdout, stderr)
		}
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, stderr)
	tuneGC(cfg, getenv, stdout)
	stopProfile, err := startProfile(cfg.CPUProfile, log)
	if err != nil {
		return err
	}
	defer stopProfile()
	if err := bootstrapTokens(cfg, stdout); err != nil {
		return err
	}
	stopTracing, err := telemetry.Setup(ctx, "failforward-api", getenv, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	var tokens *auth.Tokens
	if cfg.AuthFile != "" {
		if tokens, err = auth.Load(cfg.AuthFile); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	nc, stopNATS, err := connectEventStore(cfg, stdout)
	if err != nil {
		return err
	}
	defer stopNATS()
	store, err := events.OpenStore(ctx, nc, events.StoreConfig{Replicas: cfg.StreamReplicas, Out: stdout})
	if err != nil {
		return err
	}
	// The read store: SQLite under DATA_DIR, or DATABASE_URL.
	db, err := readstore.Open(ctx, cfg.readStoreURL())
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(stdout, "read store: %s %s\n", db.Dialect, db.Location)

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil) // stop the projector before waiting for it
	if tokens != nil {
		wg.Go(func() { tokens.Watch(ctx, cfg.AuthFile, log) }) // AUTH_FILE edits and SIGHUP take effect live
	}
	if err := startProjector(ctx, cancel, &wg, cfg, nc, db, registry, log, stdout); err != nil {
		return err
	}
	hooks, err := startWebhooks(ctx, cancel, &wg, cfg, store, db, log, stdout)
	if err != nil {
		return err
	}
	if err := writeDemo(ctx, cfg, store, stdout); err != nil {
		return err
	}
	srv, err := newHTTPServer(cfg, tokens, nc, store, db, hooks, registry, log)
	if err != nil {
		return err
	}
	return serve(ctx, cancel, cfg, srv, tokens != nil, log, stdout)
}

// connectEventStore connects to the event store: an embedded JetStream
// server under DATA_DIR, or the NATS of NATS_URL. stop closes the
// connection and any embedded server.
func connectEventStore(cfg config, stdout io.Writer) (nc *nats.Conn, stop func(), err error) {
	natsURL, stopServer := cfg.NATSURL, func() {}
	if cfg.embeddedNATS() {
		dir := filepath.Join(cfg.DataDir, "jetstream")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, nil, fmt.Errorf("create data directory: %w", err)
		}
		ns, err := natsembed.Start(natsembed.Config{StoreDir: dir, Sync: cfg.EmbeddedSync})
		if err != nil {
			return nil, nil, err
		}
		natsURL, stopServer = ns.ClientURL(), ns.Shutdown
		abs, _ := filepath.Abs(dir)
		fmt.Fprintf(stdout, "event store: embedded JetStream in %s, clients at %s\n", abs, natsURL)
	} else {
		fmt.Fprintf(stdout, "event store: NATS at %s\n", cfg.NATSURL)
	}
	// A short sync queue keeps aggregate loads fast: each direct batch get
	// subscribes an inbox whose buffer is sized by it. Without a reconnect
	// buffer a command sent while the connection is down fails at once
	// (503), instead of being sent later, after its client was told to
	// retry.
	nc, err = nats.Connect(natsURL, nats.Name("failforward-api"), nats.MaxReconnects(-1), nats.SyncQueueLen(256), nats.ReconnectBufSize(-1))
	if err != nil {
		stopServer()
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", natsURL, err)
	}
	return nc, func() { nc.Close(); stopServer() }, nil
}

// startProjector runs the projector in-process when the configuration
// calls for it, under wg; a projector that fails cancels ctx with why.
func startProjector(ctx context.Context, cancel context.CancelCauseFunc, wg *sync.WaitGroup, cfg config,
	nc *nats.Conn, db *readstore.DB, registry *prometheus.Registry, log *slog.Logger, stdout io.Writer) error {
	if !cfg.inProcessProjector() {
		fmt.Fprintln(stdout, "projector: external (run cmd/projector against the same NATS and database)")
		return nil
	}
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	projection, err := readmodel.NewProjection(db.Dialect)
	if err != nil {
		return err
	}
	p, err := projector.New(projector.Config{Conn: nc, DB: db, Applier: projection, Registerer: registry, Logger: log})
	if err != nil {
		return err
	}
	wg.Go(func() {
		if err := p.Run(ctx); err != nil && ctx.Err() == nil {
			cancel(fmt.Errorf("projector: %w", err))
		}
	})
	fmt.Fprintln(stdout, "projector: in-process")
	return nil
}

// newHTTPServer mounts the JSON API and the browser UI on one mux behind
// one authentication, so that both know a request's principal the same
// way.
func newHTTPServer(cfg config, tokens *auth.Tokens, nc *nats.Conn, store *events.Store, db *readstore.DB,
	hooks *webhooks.Manager, registry *prometheus.Registry, log *slog.Logger) (*http.Server, error) {
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		return nil, err
	}
	queries := readmodel.NewQueries(db)
	uiConfig := web.Config{Service: svc, Queries: queries, ReadStore: db, Logger: log, Webhooks: hooks}
	if tokens != nil {
		// The browser UI signs in with the same tokens as the API.
		uiConfig.Authenticate = tokens.Authenticate
	}
	ui, err := web.New(uiConfig)
	if err != nil {
		return nil, err
	}
	api, err := httpapi.New(httpapi.Config{
		Service: svc, Queries: queries, ReadStore: db, Registry: registry, Logger: log, Events: store, Webhooks: hooks,
		WritesPerSecond: cfg.WritesPerSecond, WriteBurst: cfg.WriteBurst,
		Ready: func(ctx context.Context) error {
			if !nc.IsConnected() {
				return errors.New("event store is not connected")
			}
			if _, err := db.Position(ctx); err != nil {
				return errors.New("read store is not reachable or not migrated")
			}
			return nil
		},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	api.Mount(mux)
	mux.Handle("/", api.LimitWrites(ui))
	var handler http.Handler = mux
	if tokens != nil {
		handler = auth.Middleware(tokens, http.HandlerFunc(httpapi.Unauthorized), mux)
	}
	handler = httpapi.Observe(log, mux, handler)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for requests to finish without cancelling them, and
	// a live page's or an event stream's response never finishes on its
	// own: both must be told.
	srv.RegisterOnShutdown(ui.Close)
	srv.RegisterOnShutdown(api.CloseStreams)
	return srv, nil
}

// serve listens on ADDR and serves srv until ctx ends or serving fails,
// then finishes the requests in flight before the stores they use go
// away.
func serve(ctx context.Context, cancel context.CancelCauseFunc, cfg config, srv *http.Server, authed bool, log *slog.Logger, stdout io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	fmt.Fprintf(stdout, "api: listening on http://%s\n", ln.Addr())
	if authed {
		fmt.Fprintf(stdout, "access: tokens from %s\n", cfg.AuthFile)
	} else {
		fmt.Fprintln(stdout, "access: no AUTH_FILE, every request acts as the local admin (loopback only)")
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		cancel(err)
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer done()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Warn("shutdown: requests still in flight were cut off", slog.Any("err", err))
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// startProfile starts the CPU profile that path names, if any, and
// returns the function that writes it out, logging what fails then.
func startProfile(path string, log *slog.Logger) (func(), error) {
	stop, err := profiling.StartCPU(path)
	if err != nil {
		return nil, err
	}
	return func() {
		if err := stop(); err != nil {
			log.Error("write the cpu profile", "err", err)
		}
	}, nil
}
