package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/projector/projectortest"
)

// TestMirrorCommand sets up a mirror from a configuration file like
// deploy/downstream-mirror.json, twice, as a deployment's setup job would.
func TestMirrorCommand(t *testing.T) {
	srv, _ := projectortest.StartNATS(t)
	cfg, err := events.ReadMirrorConfig(filepath.Join("..", "..", "deploy", "downstream-mirror.json"))
	if err != nil {
		t.Fatal(err)
	}
	// One account holds both here, so the mirror needs a name of its own
	// and reads its origin directly.
	cfg.Name, cfg.Mirror.External = "DOWN", nil
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mirror.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		var out syncBuffer
		err := run(context.Background(), []string{"mirror", "-config", path}, env(map[string]string{"NATS_URL": srv.ClientURL()}), &out, &out)
		if err != nil {
			t.Fatalf("mirror: %v\n%s", err, out.String())
		}
		if want := "mirror: stream DOWN at " + srv.ClientURL() + ", 1 replica(s), mirroring TRACKER\n"; out.String() != want {
			t.Errorf("mirror said %q, want %q", out.String(), want)
		}
	}
	var out syncBuffer
	if err := run(context.Background(), []string{"mirror", "-config", path}, env(nil), &out, &out); err == nil || !strings.Contains(err.Error(), "NATS_URL") {
		t.Errorf("mirror without NATS_URL: %v, want it to ask for NATS_URL", err)
	}
}
