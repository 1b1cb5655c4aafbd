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
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/web"
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
	if err := bootstrapTokens(cfg, stdout); err != nil {
		return err
	}
	var tokens *auth.Tokens
	if cfg.AuthFile != "" {
		if tokens, err = auth.Load(cfg.AuthFile); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// The event store: embedded JetStream under DATA_DIR, or NATS_URL.
	natsURL := cfg.NATSURL
	if cfg.embeddedNATS() {
		dir := filepath.Join(cfg.DataDir, "jetstream")
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		ns, err := natsembed.Start(natsembed.Config{StoreDir: dir, Sync: cfg.EmbeddedSync})
		if err != nil {
			return err
		}
		defer ns.Shutdown()
		natsURL = ns.ClientURL()
		abs, _ := filepath.Abs(dir)
		fmt.Fprintf(stdout, "event store: embedded JetStream in %s, clients at %s\n", abs, natsURL)
	} else {
		fmt.Fprintf(stdout, "event store: NATS at %s\n", cfg.NATSURL)
	}
	// A short sync queue keeps aggregate loads fast: each direct batch get
	// subscribes an inbox whose buffer is sized by it.
	// Without a reconnect buffer a command sent while the connection is
	// down fails at once (503), instead of being sent later, after its
	// client was told to retry.
	nc, err := nats.Connect(natsURL, nats.Name("failforward-api"), nats.MaxReconnects(-1), nats.SyncQueueLen(256), nats.ReconnectBufSize(-1))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", natsURL, err)
	}
	defer nc.Close()
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
	if cfg.inProcessProjector() {
		if err := db.Migrate(ctx); err != nil {
			return err
		}
		projection, err := readmodel.NewProjection(db.Dialect)
		if err != nil {
			return err
		}
		p, err := projector.New(projector.Config{
			Conn: nc, DB: db, Applier: projection, Registerer: registry, Logger: log,
		})
		if err != nil {
			return err
		}
		wg.Go(func() {
			if err := p.Run(ctx); err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("projector: %w", err))
			}
		})
		fmt.Fprintln(stdout, "projector: in-process")
	} else {
		fmt.Fprintln(stdout, "projector: external (run cmd/projector against the same NATS and database)")
	}

	if err := writeDemo(ctx, cfg, store, stdout); err != nil {
		return err
	}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		return err
	}
	queries := readmodel.NewQueries(db)
	uiConfig := web.Config{Service: svc, Queries: queries, ReadStore: db, Logger: log}
	if tokens != nil {
		// The browser UI signs in with the same tokens as the API.
		uiConfig.Authenticate = tokens.Authenticate
	}
	ui, err := web.New(uiConfig)
	if err != nil {
		return err
	}
	api, err := httpapi.New(httpapi.Config{
		Service: svc, Queries: queries, ReadStore: db, Registry: registry, Logger: log, UI: ui, Tokens: tokens, Events: store,
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
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Shutdown waits for requests to finish, and a live page's event
	// stream never does on its own.
	// Shutdown does not cancel handlers; long-lived streams must be told.
	srv.RegisterOnShutdown(ui.Close)
	srv.RegisterOnShutdown(api.CloseStreams)
	fmt.Fprintf(stdout, "api: listening on http://%s\n", ln.Addr())
	if tokens == nil {
		fmt.Fprintln(stdout, "access: no AUTH_FILE, every request acts as the local admin (loopback only)")
	} else {
		fmt.Fprintf(stdout, "access: tokens from %s\n", cfg.AuthFile)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		cancel(err)
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	// Finish the requests in flight before the stores they use go away.
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
