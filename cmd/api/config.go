package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/natsembed"
	"github.com/failforward/failforward/internal/webhooks"
)

// config is the api's configuration: each field has an environment
// variable and a flag of the same meaning; a flag wins.
type config struct {
	Addr        string
	NATSURL     string
	DatabaseURL string
	DataDir     string
	AuthFile    string
	// WritesPerSecond and WriteBurst limit each token's writes.
	WritesPerSecond float64
	WriteBurst      int
	// StreamReplicas is the event stream's replica count; 0 chooses (3 on
	// a cluster of at least three JetStream servers, else 1).
	StreamReplicas int
	// EmbeddedSync is how the embedded JetStream server syncs writes to
	// disk: natsembed.SyncAlways or natsembed.SyncInterval.
	EmbeddedSync natsembed.SyncPolicy
	// Demo fills an empty event store with a made-up two-year history
	// before serving (-demo; no variable, as it is done once).
	Demo bool
	// AuthBootstrap creates an admin token in AUTH_FILE on a first start,
	// when the file holds none (AUTH_BOOTSTRAP).
	AuthBootstrap bool
	// LogFormat is text or json (LOG_FORMAT).
	LogFormat string
	// WebhookKey derives webhook subscriptions' signing secrets, at least
	// 32 bytes (WEBHOOK_KEY); embedded mode generates one in DATA_DIR when
	// it is empty.
	WebhookKey string
	// WebhookAllowPrivate lets webhooks reach loopback and private
	// addresses (WEBHOOK_ALLOW_PRIVATE), for receivers on premises.
	WebhookAllowPrivate bool
	// PublicURL is the base of links to the web pages in chat
	// notifications (PUBLIC_URL); http://ADDR when empty.
	PublicURL string
	// CPUProfile is a file to write a CPU profile of the whole run into
	// (CPU_PROFILE), for `go tool pprof`.
	CPUProfile string
}

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := config{
		Addr:        envOr(getenv, "ADDR", "127.0.0.1:8080"),
		NATSURL:     getenv("NATS_URL"),
		DatabaseURL: getenv("DATABASE_URL"),
		DataDir:     envOr(getenv, "DATA_DIR", "data"),
		AuthFile:    getenv("AUTH_FILE"),
		LogFormat:   envOr(getenv, "LOG_FORMAT", "text"),
		WebhookKey:  getenv("WEBHOOK_KEY"),
		PublicURL:   getenv("PUBLIC_URL"),
		CPUProfile:  getenv("CPU_PROFILE"),
	}
	var (
		errs []error
		err  error
	)
	if c.StreamReplicas, err = events.ParseReplicas(getenv("STREAM_REPLICAS")); err != nil {
		errs = append(errs, fmt.Errorf("STREAM_REPLICAS: %w", err))
	}
	c.EmbeddedSync = natsembed.SyncPolicy(envOr(getenv, "EMBEDDED_SYNC", string(natsembed.SyncAlways)))
	if v := getenv("AUTH_BOOTSTRAP"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("AUTH_BOOTSTRAP %q must be true or false", v))
		}
		c.AuthBootstrap = b
	}
	if v := getenv("WEBHOOK_ALLOW_PRIVATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("WEBHOOK_ALLOW_PRIVATE %q must be true or false", v))
		}
		c.WebhookAllowPrivate = b
	}
	if v := getenv("WRITES_PER_SECOND"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Errorf("WRITES_PER_SECOND %q must be a positive number", v))
		}
		c.WritesPerSecond = f
	}
	if v := getenv("WRITE_BURST"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Errorf("WRITE_BURST %q must be a positive whole number", v))
		}
		c.WriteBurst = n
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to serve HTTP on (ADDR)")
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "NATS server with the TRACKER stream (NATS_URL); empty runs an embedded JetStream server")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "read-model database, postgres:// or sqlite:<path> (DATABASE_URL); empty uses SQLite in the data directory")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "where embedded mode keeps its data (DATA_DIR)")
	fs.StringVar(&c.AuthFile, "auth-file", c.AuthFile, "API tokens file (AUTH_FILE)")
	fs.Float64Var(&c.WritesPerSecond, "writes-per-second", c.WritesPerSecond, "writes each token may make per second (WRITES_PER_SECOND)")
	fs.IntVar(&c.WriteBurst, "write-burst", c.WriteBurst, "writes each token may make at once above its rate (WRITE_BURST)")
	fs.IntVar(&c.StreamReplicas, "stream-replicas", c.StreamReplicas, "replicas of the event stream, 1-5; 0 chooses 3 on a NATS cluster of at least three JetStream servers, else 1 (STREAM_REPLICAS)")
	fs.StringVar((*string)(&c.EmbeddedSync), "embedded-sync", string(c.EmbeddedSync), "embedded JetStream: 'always' syncs each write to disk before acknowledging it, 'interval' every two minutes, faster but a power loss can lose acknowledged writes (EMBEDDED_SYNC)")
	fs.BoolVar(&c.Demo, "demo", false, "fill an empty event store with a two-year demo history, then serve")
	fs.BoolVar(&c.AuthBootstrap, "auth-bootstrap", c.AuthBootstrap, "create an admin token in AUTH_FILE on a first start, when it holds none, and print it once (AUTH_BOOTSTRAP)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text, or json for JSON lines (LOG_FORMAT)")
	fs.StringVar(&c.WebhookKey, "webhook-key", c.WebhookKey, "server key, at least 32 bytes, that webhook signing secrets are derived from, the same in every api process (WEBHOOK_KEY); empty in embedded mode keeps a generated one in the data directory")
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", c.WebhookAllowPrivate, "let webhooks reach loopback and private addresses, for receivers on premises (WEBHOOK_ALLOW_PRIVATE)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "base URL of the web pages, for links in chat notifications (PUBLIC_URL); http://ADDR when empty")
	fs.StringVar(&c.CPUProfile, "cpuprofile", c.CPUProfile, "write a CPU profile of the whole run into this file, for go tool pprof (CPU_PROFILE)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("ADDR %q: %w", c.Addr, err))
	} else if c.AuthFile == "" && !isLoopback(host) {
		errs = append(errs, fmt.Errorf("ADDR %q is not a loopback address: without AUTH_FILE every request acts as a local admin, so the API serves only 127.0.0.1, ::1 or localhost", c.Addr))
	}
	if _, err := events.ParseReplicas(strconv.Itoa(c.StreamReplicas)); err != nil {
		errs = append(errs, fmt.Errorf("-stream-replicas: %w", err))
	}
	if err := c.EmbeddedSync.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("EMBEDDED_SYNC: %w", err))
	}
	if c.AuthBootstrap && c.AuthFile == "" {
		errs = append(errs, errors.New("AUTH_BOOTSTRAP needs AUTH_FILE: the file the first admin token is written to"))
	}
	if c.WebhookKey != "" && len(c.WebhookKey) < webhooks.MinServerKey {
		errs = append(errs, fmt.Errorf("WEBHOOK_KEY must be at least %d bytes: every webhook secret is derived from it", webhooks.MinServerKey))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("PUBLIC_URL %q must be an http:// or https:// URL", c.PublicURL))
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT %q must be text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// embeddedNATS reports whether the api runs its own JetStream server.
func (c config) embeddedNATS() bool { return c.NATSURL == "" }

// inProcessProjector reports whether the api projects events itself: it
// does unless both the event store and the read store are external, in
// which case cmd/projector is expected to run beside it.
func (c config) inProcessProjector() bool { return c.NATSURL == "" || c.DatabaseURL == "" }

// publicURL is the base of links to the web pages.
func (c config) publicURL() string {
	if c.PublicURL != "" {
		return c.PublicURL
	}
	return "http://" + c.Addr
}

func (c config) readStoreURL() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return "sqlite:" + filepath.Join(c.DataDir, "readmodels.db")
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
