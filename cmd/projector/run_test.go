package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readstore"
)

// syncBuffer is an output that a test reads while run writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var metricsLine = regexp.MustCompile(`metrics: (http://\S+)/metrics`)

func TestRunServesHealthAndMetricsAndStopsGracefully(t *testing.T) {
	srv, nc := projectortest.StartNATS(t)
	projectortest.Publish(t, nc, projectortest.Generate(1000, 11))
	dbPath := filepath.Join(t.TempDir(), "read.db")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-metrics-addr", "127.0.0.1:0"},
			env(map[string]string{"NATS_URL": srv.ClientURL(), "DATABASE_URL": "sqlite:" + dbPath}), &stdout, &stderr)
	}()
	var base string
	projectortest.WaitFor(t, 10*time.Second, "the metrics address", func() (bool, error) {
		if m := metricsLine.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		return base != "", nil
	})
	projectortest.WaitFor(t, 10*time.Second, "/readyz to answer 200", func() (bool, error) {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK, nil
	})
	// Alone on its read store, it took the lease.
	if _, body := get(t, base+"/readyz"); !strings.HasPrefix(body, "active: ready at position 1000, lease epoch 1") {
		t.Errorf("/readyz = %q, want the active role first", body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	_, metrics := get(t, base+"/metrics")
	for _, want := range []string{"projector_position 1000", "projector_lag_events 0", "projector_events_applied_total 1000", "projector_batch_size_bucket", "projector_watermill_handler_execution_time_seconds",
		`projector_role{role="active"} 1`, `projector_role{role="standby"} 0`, "projector_lease_epoch 1"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run() = %v after cancel, want nil; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	out := stdout.String()
	for _, want := range []string{"event store: NATS at nats://", "read store: sqlite " + dbPath + ", checkpoint 0", "metrics: http://"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestRunRebuild(t *testing.T) {
	srv, nc := projectortest.StartNATS(t)
	projectortest.Publish(t, nc, projectortest.Generate(2000, 12))
	dbPath := filepath.Join(t.TempDir(), "read.db")
	var stdout syncBuffer
	err := run(context.Background(), []string{"rebuild", "-strict"},
		env(map[string]string{"NATS_URL": srv.ClientURL(), "DATABASE_URL": dbPath}), &stdout, io.Discard)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	if out := stdout.String(); !strings.Contains(out, "rebuild: 2000/2000 events (100%)") || !strings.Contains(out, "ETA") {
		t.Errorf("rebuild output lacks its progress:\n%s", out)
	}
	db, err := readstore.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if pos, err := db.Position(context.Background()); err != nil || pos != 2000 {
		t.Fatalf("position after rebuild = %d, %v; want 2000", pos, err)
	}
}

func TestRunRequiresBothStores(t *testing.T) {
	err := run(context.Background(), nil, env(nil), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "NATS_URL") || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("run() = %v, want an error naming NATS_URL and DATABASE_URL", err)
	}
}

func TestRedactedNATSURL(t *testing.T) {
	c := config{NATSURL: "nats://failforward:s3cret@nats:4222"}
	if got := c.redactedNATSURL(); strings.Contains(got, "s3cret") {
		t.Errorf("redactedNATSURL() = %q, shows the password", got)
	}
	c.NATSURL = "nats://failforward:s3cret@nats-1:4222,nats://failforward:s3cret@nats-2:4222, nats://nats-3:4222"
	if got, want := c.redactedNATSURL(), "nats://failforward:xxxxx@nats-1:4222,nats://failforward:xxxxx@nats-2:4222,nats://nats-3:4222"; got != want {
		t.Errorf("redactedNATSURL() of a cluster's URLs = %q, want %q", got, want)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
