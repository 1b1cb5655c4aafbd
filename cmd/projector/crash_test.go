package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// TestExactlyOnceAcrossKills is the projector's exactly-once guarantee,
// tested the hard way: the real binary replays 20,000 events into
// Postgres and is killed with SIGKILL at random moments, each time in the
// middle of the replay, and restarted; the read models it ends with must
// equal, row for row, those of one uninterrupted replay of the same
// stream. It runs in CI and locally, but not with -short.
func TestExactlyOnceAcrossKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and replays 20,000 events; skipped with -short")
	}
	const events, minKills = 20_000, 5
	bin := buildProjector(t)

	srv, nc := projectortest.StartNATS(t)
	projectortest.Publish(t, nc, projectortest.Generate(events, 2026))
	url := readstoretest.URL(t, readstore.Postgres)
	db, err := readstore.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	position := func() uint64 { return positionOf(db) }

	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed))
	t.Logf("seed %d", seed)
	logs := filepath.Join(t.TempDir(), "projector.log")
	start := func() *exec.Cmd {
		t.Helper()
		logFile, err := os.OpenFile(logs, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer logFile.Close()
		cmd := exec.Command(bin)
		// A short lease: each restart waits for the killed run's to expire.
		cmd.Env = append(os.Environ(), "NATS_URL="+srv.ClientURL(), "DATABASE_URL="+url, "METRICS_ADDR=127.0.0.1:0",
			"LEASE_DURATION=1s", "LEASE_RENEWAL=250ms",
			// Small batches, so that kills land between many commits.
			"BATCH_SIZE=1000")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	var kills []uint64
	for len(kills) < minKills+1 {
		before := position()
		cmd := start()
		// Let it commit at least one batch, then kill it a random moment
		// later, while it is still replaying.
		projectortest.WaitFor(t, 60*time.Second, fmt.Sprintf("progress past %d", before), func() (bool, error) {
			return position() > before, nil
		})
		time.Sleep(time.Duration(rng.IntN(40)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		at := position()
		if at >= events {
			break // it finished before the kill landed
		}
		kills = append(kills, at)
	}
	t.Logf("killed at checkpoints %v", kills)
	if len(kills) < minKills {
		t.Fatalf("only %d kills landed mid-replay, want at least %d; the replay outran them", len(kills), minKills)
	}

	// The last run finishes, then stops gracefully on SIGTERM.
	cmd := start()
	projectortest.WaitPosition(t, db, events, 120*time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		out, _ := os.ReadFile(logs)
		t.Fatalf("projector exited with %v after SIGTERM, want 0; log:\n%s", err, lastBytes(out, 4000))
	}
	if skipped, _ := db.ListSkipped(context.Background()); len(skipped) != 0 {
		t.Errorf("skipped = %v, want none", skipped)
	}

	// The reference: one uninterrupted replay into a fresh database.
	ref := replayReference(t, nc, events)
	projectortest.AssertSameRows(t, projectortest.Dump(t, db), projectortest.Dump(t, ref))
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return bytes.Clone(b[len(b)-n:])
	}
	return b
}
