package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// buildProjector builds this command into the test's temporary directory.
func buildProjector(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "projector")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// child is the projector binary running as a process of its own.
type child struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer
	base string // http://host:port of its metrics and health
	done chan error
}

// startChild runs bin with env added to the test's environment, and
// waits until it serves its metrics. It is killed when the test ends.
func startChild(t *testing.T, bin string, env ...string) *child {
	t.Helper()
	c := &child{t: t, cmd: exec.Command(bin), out: &syncBuffer{}, done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.cmd.Process.Kill() // a stopped process dies of SIGKILL too
		<-c.done
		if t.Failed() {
			t.Logf("log of projector %d:\n%s", c.cmd.Process.Pid, lastBytes([]byte(c.out.String()), 4000))
		}
	})
	projectortest.WaitFor(t, 30*time.Second, "the projector's metrics address", func() (bool, error) {
		if m := metricsLine.FindStringSubmatch(c.out.String()); m != nil {
			c.base = m[1]
		}
		return c.base != "", nil
	})
	return c
}

func (c *child) signal(sig os.Signal) {
	c.t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		c.t.Fatal(err)
	}
}

// readyz returns /readyz's status and body.
func (c *child) readyz() (int, string) { return get(c.t, c.base+"/readyz") }

// waitRole polls /readyz until it answers 200 with role as its first
// word.
func (c *child) waitRole(role string, timeout time.Duration) {
	c.t.Helper()
	projectortest.WaitFor(c.t, timeout, "projector role "+role, func() (bool, error) {
		code, body := c.readyz()
		return code == 200 && strings.HasPrefix(body, role), nil
	})
}

// metric returns the value of the sample named series (with its labels,
// as the text format writes them) on /metrics.
func (c *child) metric(series string) float64 {
	c.t.Helper()
	_, body := get(c.t, c.base+"/metrics")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("/metrics has no %s", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		c.t.Fatal(err)
	}
	return v
}

// replayReference replays the whole stream into a fresh Postgres read
// store in one uninterrupted run: what a disturbed run must equal.
func replayReference(t *testing.T, nc *nats.Conn, events uint64) *readstore.DB {
	t.Helper()
	ref := readstoretest.Open(t, readstore.Postgres)
	applier, err := readmodel.NewProjection(ref.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	p, err := projector.New(projector.Config{Conn: nc, DB: ref, Applier: applier, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	projectortest.WaitPosition(t, ref, events, 120*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return ref
}

// positionOf returns db's checkpoint; 0 before the first run migrated it.
func positionOf(db *readstore.DB) uint64 {
	pos, _ := db.Position(context.Background())
	return pos
}

func waitPast(t *testing.T, db *readstore.DB, pos uint64, timeout time.Duration) {
	t.Helper()
	projectortest.WaitFor(t, timeout, fmt.Sprintf("the checkpoint past %d", pos), func() (bool, error) {
		return positionOf(db) > pos, nil
	})
}
