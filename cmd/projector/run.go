package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/healthcheck"
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/telemetry"
)

// run starts the projector, or one of its subcommands, and blocks until
// ctx ends or the projector halts. It prints one line each for the event
// store, the read store and the metrics address. On SIGINT or SIGTERM it
// finishes the batch in hand and returns nil.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "healthcheck":
			return healthcheck.Run(ctx, args[1:], "http://127.0.0.1:9090/healthz", stderr)
		case "rebuild":
			return rebuild(ctx, args[1:], getenv, stdout, stderr)
		case "mirror":
			return mirror(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	cfg, err := parseConfig("projector", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := cfg.logger(stderr)
	stopProfile, err := cfg.profile(log)
	if err != nil {
		return err
	}
	defer stopProfile()
	stopTracing, err := telemetry.Setup(ctx, "failforward-projector", getenv, log)
	if err != nil {
		return err
	}
	defer stopTracing()

	nc, err := connect(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	defer nc.Close()
	db, err := openReadStore(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	defer db.Close()
	applier, err := readmodel.NewProjection(db.Dialect)
	if err != nil {
		return err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Any number of projectors may run against one read store: the one
	// holding its lease applies events, the others stand by.
	p, err := projector.New(projector.Config{Conn: nc, DB: db, Applier: applier, Registerer: registry, Logger: log,
		Failover: true, LeaseDuration: cfg.LeaseDuration, LeaseRenewal: cfg.LeaseRenewal, BatchSize: cfg.BatchSize})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.MetricsAddr, err)
	}
	srv := &http.Server{
		Handler:           routes(registry, p, nc, db),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "metrics: http://%s/metrics, health on /healthz and /readyz\n", ln.Addr())
	return serve(ctx, p, srv, ln, log)
}

// openReadStore opens and migrates the read store and prints where it is
// and its checkpoint.
func openReadStore(ctx context.Context, cfg config, stdout io.Writer) (*readstore.DB, error) {
	db, err := readstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	pos, err := db.Position(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "read store: %s %s, checkpoint %d\n", db.Dialect, db.Location, pos)
	return db, nil
}

// serve runs the projector and its operations endpoints on ln until ctx
// ends or either of them stops, then shuts the endpoints down.
func serve(ctx context.Context, p *projector.Projector, srv *http.Server, ln net.Listener, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run(ctx) }()

	var err error
	select {
	case err = <-runErr:
	case err = <-serveErr:
		err = fmt.Errorf("serve metrics: %w", err)
		cancel()
		if runErr := <-runErr; runErr != nil {
			err = errors.Join(err, runErr)
		}
	}
	shutdownCtx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer done()
	if serr := srv.Shutdown(shutdownCtx); serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		log.Warn("metrics server shutdown", "err", serr)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// connect dials NATS and makes sure the event stream exists with the
// settings the event store relies on.
func connect(ctx context.Context, cfg config, stdout io.Writer) (*nats.Conn, error) {
	nc, err := nats.Connect(cfg.NATSURL, nats.Name("failforward-projector"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.redactedNATSURL(), err)
	}
	if _, err := events.OpenStore(ctx, nc, events.StoreConfig{Replicas: cfg.StreamReplicas, Out: stdout}); err != nil {
		nc.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "event store: NATS at %s, stream %s\n", cfg.redactedNATSURL(), events.DefaultStream)
	return nc, nil
}

// routes serves the projector's operations endpoints.
func routes(registry *prometheus.Registry, p *projector.Projector, nc *nats.Conn, db *readstore.DB) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{Registry: registry}))
	// Alive as long as the process runs: a projector that halts exits.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	// Ready while both stores answer and, for the active projector, once
	// caught up with the stream as it was when it took over; a standby is
	// ready to take over. The body's first word is the role.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var problems []string
		role := p.Role()
		if role == projector.RoleActive {
			select {
			case <-p.Ready():
			default:
				problems = append(problems, fmt.Sprintf("catching up: at %d, %d events behind", p.Position(), p.Lag()))
			}
		}
		if !nc.IsConnected() {
			problems = append(problems, "event store is not connected")
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			problems = append(problems, "read store is not reachable")
		}
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, role)
			for _, p := range problems {
				fmt.Fprintln(w, p)
			}
			return
		}
		if role == projector.RoleStandby {
			fmt.Fprintf(w, "standby: ready to take over; the read store is at position %d, lease epoch %d\n", p.Position(), p.LeaseEpoch())
			return
		}
		fmt.Fprintf(w, "active: ready at position %d, lease epoch %d\n", p.Position(), p.LeaseEpoch())
	})
	return mux
}
