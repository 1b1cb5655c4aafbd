package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/profiling"
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/telemetry"
)

// config is the projector's configuration: each field has an environment
// variable and a flag of the same meaning; a flag wins.
type config struct {
	NATSURL     string
	DatabaseURL string
	MetricsAddr string
	// StreamReplicas is the event stream's replica count; 0 chooses (3 on
	// a cluster of at least three JetStream servers, else 1).
	StreamReplicas int
	// Strict is the rebuild's -strict flag.
	Strict bool
	// LogFormat is text or json (LOG_FORMAT).
	LogFormat string
	// LeaseDuration and LeaseRenewal time the lease that makes one of the
	// projectors sharing a read store the active one (LEASE_DURATION,
	// LEASE_RENEWAL).
	LeaseDuration, LeaseRenewal time.Duration
	// BatchSize is the most events applied in one transaction
	// (BATCH_SIZE); projector.DefaultBatchSize when 0.
	BatchSize int
	// CPUProfile is a file to write a CPU profile of the whole run into
	// (CPU_PROFILE), for `go tool pprof`.
	CPUProfile string
}

// parseConfig reads the environment, then the flags of the command name
// (run or rebuild).
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	c := config{
		NATSURL:     getenv("NATS_URL"),
		DatabaseURL: getenv("DATABASE_URL"),
		MetricsAddr: envOr(getenv, "METRICS_ADDR", "127.0.0.1:9090"),
		LogFormat:   envOr(getenv, "LOG_FORMAT", "text"),
		CPUProfile:  getenv("CPU_PROFILE"),
	}
	replicas, err := events.ParseReplicas(getenv("STREAM_REPLICAS"))
	if err != nil {
		return c, fmt.Errorf("STREAM_REPLICAS: %w", err)
	}
	c.StreamReplicas = replicas
	var errs []error
	for _, d := range []struct {
		env string
		to  *time.Duration
		def time.Duration
	}{
		{"LEASE_DURATION", &c.LeaseDuration, projector.DefaultLeaseDuration},
		{"LEASE_RENEWAL", &c.LeaseRenewal, projector.DefaultLeaseRenewal},
	} {
		*d.to = d.def
		if v := getenv(d.env); v != "" {
			if *d.to, err = time.ParseDuration(v); err != nil {
				errs = append(errs, fmt.Errorf("%s %q is not a duration such as 3s", d.env, v))
			}
		}
	}
	if v := getenv("BATCH_SIZE"); v != "" {
		if c.BatchSize, err = strconv.Atoi(v); err != nil || c.BatchSize < 1 {
			errs = append(errs, fmt.Errorf("BATCH_SIZE %q must be a positive whole number", v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.StreamReplicas, "stream-replicas", c.StreamReplicas, "replicas of the event stream, 1-5; 0 chooses 3 on a NATS cluster of at least three JetStream servers, else 1 (STREAM_REPLICAS)")
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "NATS server with the TRACKER stream (NATS_URL), required")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "read-model database, postgres:// or sqlite:<path> (DATABASE_URL), required")
	if name == "rebuild" {
		fs.BoolVar(&c.Strict, "strict", false, "fail, leaving the live tables as they are, if any event cannot be applied")
	} else {
		fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "address serving /metrics, /healthz and /readyz (METRICS_ADDR)")
		fs.DurationVar(&c.LeaseDuration, "lease-duration", c.LeaseDuration, "how long the active projector's lease lasts unless renewed, so how soon a standby takes over when it dies (LEASE_DURATION)")
		fs.DurationVar(&c.LeaseRenewal, "lease-renewal", c.LeaseRenewal, "how often the active projector renews its lease and a standby tries to take it; shorter than -lease-duration (LEASE_RENEWAL)")
	}
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text, or json for JSON lines (LOG_FORMAT)")
	fs.IntVar(&c.BatchSize, "batch-size", c.BatchSize, fmt.Sprintf("most events applied in one transaction while catching up; 0 means %d (BATCH_SIZE)", projector.DefaultBatchSize))
	fs.StringVar(&c.CPUProfile, "cpuprofile", c.CPUProfile, "write a CPU profile of the whole run into this file, for go tool pprof (CPU_PROFILE)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, errors.New("unexpected arguments: " + fs.Arg(0))
	}
	return c, c.validate()
}

func (c config) validate() error {
	var errs []error
	if c.NATSURL == "" {
		errs = append(errs, errors.New("NATS_URL (-nats-url) is required: the projector reads the stream of an external NATS server"))
	}
	if c.DatabaseURL == "" {
		errs = append(errs, errors.New("DATABASE_URL (-database-url) is required"))
	}
	if _, err := events.ParseReplicas(strconv.Itoa(c.StreamReplicas)); err != nil {
		errs = append(errs, fmt.Errorf("-stream-replicas: %w", err))
	}
	if c.LeaseRenewal <= 0 || c.LeaseDuration <= c.LeaseRenewal {
		errs = append(errs, fmt.Errorf("LEASE_RENEWAL %s must be positive and shorter than LEASE_DURATION %s", c.LeaseRenewal, c.LeaseDuration))
	}
	if c.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("-batch-size %d must not be negative", c.BatchSize))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("LOG_FORMAT %q must be text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// logger returns the projector's logger: text lines by default, JSON
// lines with LOG_FORMAT=json, for log collectors that parse them.
func (c config) logger(w io.Writer) *slog.Logger {
	if c.LogFormat == "json" {
		return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, nil)))
	}
	return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, nil)))
}

// redactedNATSURL is the NATS URL without its password, for logs. A list
// of URLs (one per cluster node, comma-separated) has each redacted.
func (c config) redactedNATSURL() string {
	urls := strings.Split(c.NATSURL, ",")
	for i, s := range urls {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			urls[i] = "(unparsable URL)"
			continue
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		urls[i] = u.String()
	}
	return strings.Join(urls, ",")
}

// profile starts the CPU profile CPUProfile names, if any; run and
// rebuild call the returned function as they return.
func (c config) profile(log *slog.Logger) (stop func(), err error) {
	end, err := profiling.StartCPU(c.CPUProfile)
	if err != nil {
		return nil, err
	}
	return func() {
		if err := end(); err != nil {
			log.Error("write the cpu profile", "err", err)
		}
	}, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
