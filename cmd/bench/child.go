package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/readmodel"
)

// childEnv, set in the environment, makes the bench binary run as a
// projector process instead: the replay scenarios measure the projector
// alone, its memory included, in a process of its own, as cmd/projector
// runs in production.
const childEnv = "FAILFORWARD_BENCH_CHILD"

// childResult is what the projector process reports when it stops.
type childResult struct {
	// PeakRSS is the process's peak resident set (VmHWM), 0 where /proc
	// is not there to tell.
	PeakRSS uint64 `json:"peak_rss"`
	// PeakHeap is the largest live-and-unswept heap seen, sampled from
	// runtime/metrics every 20ms.
	PeakHeap uint64 `json:"peak_heap"`
	Position uint64 `json:"position"`
	// Batches are the projector's committed batches.
	Batches batches `json:"batches"`
}

// childMain runs the projector as cmd/projector wires it (NATS, the event
// stream checked by OpenStore, the read store migrated, the projection,
// Go and process collectors on a registry), from NATS_URL and
// DATABASE_URL, until its standard input closes. It prints "running"
// once the projector starts, and a childResult as JSON when it stops.
// Only cmd/projector's metrics listener is left out.
func childMain(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := child(ctx, getenv, stdin, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "bench projector:", err)
		return 1
	}
	return 0
}

func child(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nc, err := nats.Connect(getenv("NATS_URL"), nats.Name("failforward-projector"), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := events.OpenStore(ctx, nc, events.StoreConfig{}); err != nil {
		return err
	}
	db, err := openStore(ctx, getenv("DATABASE_URL"))
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
	p, err := projector.New(projector.Config{Conn: nc, DB: db, Applier: applier, Registerer: registry, Logger: log})
	if err != nil {
		return err
	}
	if path := getenv("BENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var (
		peak    uint64
		wg      sync.WaitGroup
		sampled = make(chan struct{})
	)
	wg.Go(func() { peak = samplePeakHeap(sampled) })
	fmt.Fprintln(stdout, "running")
	err = p.Run(ctx)
	close(sampled)
	wg.Wait()
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(childResult{
		PeakRSS: peakRSS(), PeakHeap: peak, Position: p.Position(), Batches: batchesOf(registry),
	})
}

// samplePeakHeap samples the heap every 20ms until stop closes, and
// returns the most it saw.
func samplePeakHeap(stop <-chan struct{}) uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(s)
		peak = max(peak, s[0].Value.Uint64())
		select {
		case <-stop:
			return peak
		case <-t.C:
		}
	}
}

// peakRSS reads the process's peak resident set from /proc/self/status;
// 0 where there is no /proc.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// runProjector starts a projector process on the stream at natsURL and
// the read store at dbURL, and stops it once caughtUp reports true
// (polled every 10ms). It returns the time from the projector's start to
// caught up, and what the process reported.
func (b *bench) runProjector(ctx context.Context, name, natsURL, dbURL string, caughtUp func() (bool, error)) (time.Duration, childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, childResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), childEnv+"=projector", "NATS_URL="+natsURL, "DATABASE_URL="+dbURL)
	if b.opts.profileDir != "" {
		cmd.Env = append(cmd.Env, "BENCH_CPUPROFILE="+filepath.Join(b.opts.profileDir, name+"-projector.cpu.pprof"))
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, childResult{}, err
	}
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		return 0, childResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return 0, childResult{}, err
	}
	fail := func(err error) (time.Duration, childResult, error) {
		stdin.Close()
		_ = cmd.Wait()
		if s := strings.TrimSpace(stderr.String()); s != "" {
			err = fmt.Errorf("%w; projector process said: %s", err, s)
		}
		return 0, childResult{}, err
	}
	out := bufio.NewScanner(stdoutPipe)
	if !out.Scan() || out.Text() != "running" {
		return fail(errors.New("projector process did not start"))
	}
	start := time.Now()
	for {
		ok, err := caughtUp()
		if err != nil {
			return fail(err)
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	took := time.Since(start)
	stdin.Close()
	var res childResult
	if !out.Scan() {
		return fail(errors.New("projector process stopped without its result"))
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return fail(fmt.Errorf("projector process result: %w", err))
	}
	if err := cmd.Wait(); err != nil {
		return 0, childResult{}, fmt.Errorf("projector process: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return took, res, nil
}
