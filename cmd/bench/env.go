package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/natsembed"
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
	// Synced on nats-server's own timer, as a NATS server run apart from
	// the api is by default: the stream the programs use as an external
	// NATS_URL. (The api's embedded server syncs every write by default,
	// which the lag scenario, in embedded mode, measures.)
	srv, err := natsembed.Start(natsembed.Config{StoreDir: store, Port: -1, ServerName: "bench", Sync: natsembed.SyncInterval})
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

// api is the api program, running.
type api struct {
	*process
	base string
	// natsURL is the client URL of its JetStream server in embedded mode.
	natsURL string
}

// startAPI runs the api on a free loopback port with the settings in
// env, and no AUTH_FILE (every request is the local admin, and writes
// are not rate-limited), and waits until it is ready.
func (b *bench) startAPI(ctx context.Context, env ...string) (*api, error) {
	p, err := startProcess("api", b.bin.api, append(append([]string{"ADDR=127.0.0.1:0"}, env...), b.programProfile("api")...))
	if err != nil {
		return nil, err
	}
	a := &api{process: p}
	if a.base, err = p.await(ctx, "api: listening on "); err == nil {
		err = p.awaitReady(ctx, b.client, a.base+"/readyz")
	}
	if err != nil {
		p.stop()
		return nil, err
	}
	if rest, ok := p.out.find("event store: embedded JetStream in "); ok {
		_, a.natsURL, _ = strings.Cut(rest, ", clients at ")
	}
	return a, nil
}

// withCause adds to err the first error the api logged, if any: an
// internal error (a 500) is logged with its cause.
func (a *api) withCause(err error) error {
	if cause := a.out.firstError(); cause != "" {
		return fmt.Errorf("%w; the API logged: %s", err, cause)
	}
	return err
}

// projectorProc is the projector program, running.
type projectorProc struct {
	*process
	metrics string
}

// startProjector runs the projector on the stream at natsURL and the
// read store at dbURL, its metrics on a free loopback port, and returns
// once it has connected to both and migrated the read store.
func (b *bench) startProjector(ctx context.Context, natsURL, dbURL string) (*projectorProc, error) {
	p, err := startProcess("projector", b.bin.projector, append([]string{
		"NATS_URL=" + natsURL, "DATABASE_URL=" + dbURL, "METRICS_ADDR=127.0.0.1:0",
	}, b.programProfile("projector")...))
	if err != nil {
		return nil, err
	}
	// "metrics: http://127.0.0.1:port/metrics, health on /healthz and /readyz"
	rest, err := p.await(ctx, "metrics: ")
	if err != nil {
		p.stop()
		return nil, err
	}
	u, _, _ := strings.Cut(rest, ",")
	return &projectorProc{process: p, metrics: u}, nil
}

// reach waits until the projector has applied the stream up to pos,
// reading its metrics every 100ms, and gives each reading to sample when
// it is not nil.
func (p *projectorProc) reach(ctx context.Context, client *http.Client, pos uint64, sample func(map[string]float64)) error {
	return p.poll(ctx, 100*time.Millisecond, time.Hour, fmt.Sprintf("to reach position %d", pos), func() (bool, error) {
		m, err := scrape(ctx, client, p.metrics)
		if err != nil {
			return false, err
		}
		if sample != nil {
			sample(m)
		}
		return m["projector_position"] >= float64(pos), nil
	})
}

// clientTimeout bounds every request the bench sends.
const clientTimeout = 30 * time.Second

// newClient returns an HTTP client that keeps a connection per concurrent
// caller, as a pool of clients of the API would.
func newClient(conns int) *http.Client {
	return &http.Client{
		Timeout: clientTimeout,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// batches sums the projector's batch histograms: how many batches
// it committed, the time they took to apply and commit, and the events in
// them.
type batches struct {
	Count   uint64  `json:"batches"`
	Seconds float64 `json:"batch_seconds"`
	Events  float64 `json:"batch_events"`
}

func batchesOf(m map[string]float64) batches {
	return batches{
		Count:   uint64(m["projector_batch_duration_seconds_count"]),
		Seconds: m["projector_batch_duration_seconds_sum"],
		Events:  m["projector_batch_size_sum"],
	}
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
