package events_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
)

// localMirror is deploy/downstream-mirror.json renamed, and reading the
// origin in its own account, so that one account can hold both.
func localMirror(t *testing.T, name string) jetstream.StreamConfig {
	t.Helper()
	cfg, err := events.ReadMirrorConfig(filepath.Join(deployDir, "downstream-mirror.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Name = name
	cfg.Mirror.External = nil
	return cfg
}

func TestMirrorReplicasOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	_, nc := startCluster(t, 3)
	s := openStoreEventually(t, nc, events.StoreConfig{})
	id := newID()
	appendOK(t, s, "experiment", id, 0, withLearnings(id, 2), "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	t.Run("a new mirror gets three", func(t *testing.T) {
		var out lockedBuffer
		m, err := events.OpenMirror(ctx, nc, events.MirrorConfig{Stream: localMirror(t, "DOWN"), Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("mirror replicas = %d, want 3", got)
		}
		eventually(t, "the mirror holds the origin's three events", func() bool {
			info, err := m.Info(ctx)
			return err == nil && info.State.LastSeq == 3
		})
	})

	t.Run("a mirror of one replica is scaled to three", func(t *testing.T) {
		cfg := localMirror(t, "OLDDOWN")
		cfg.Replicas = 1
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		var out lockedBuffer
		m, err := events.OpenMirror(ctx, nc, events.MirrorConfig{Stream: cfg, Out: &out})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("mirror replicas = %d, want 3", got)
		}
		if want := "mirror: stream OLDDOWN scaled from 1 to 3 replicas\n"; out.String() != want {
			t.Errorf("startup said %q, want %q", out.String(), want)
		}
	})
}

// TestOpenMirrorAsDownstream sets the mirror up as deploy/nats.conf's
// downstream user may, on a single server: one replica, the origin's
// events.
func TestOpenMirrorAsDownstream(t *testing.T) {
	srv := startDeployedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	own, err := nats.Connect(srv.ClientURL(), nats.UserInfo("failforward", "failforward-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	s := openStore(t, own, events.StoreConfig{})
	id := newID()
	appendOK(t, s, "experiment", id, 0, withLearnings(id, 1), "")

	ds, err := nats.Connect(srv.ClientURL(), nats.UserInfo("downstream", "downstream-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	cfg, err := events.ReadMirrorConfig(filepath.Join(deployDir, "downstream-mirror.json"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second start finds it and changes nothing
		m, err := events.OpenMirror(ctx, ds, events.MirrorConfig{Stream: cfg})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.CachedInfo().Config.Replicas; got != 1 {
			t.Errorf("mirror replicas = %d, want 1", got)
		}
		eventually(t, "the mirror holds the origin's two events", func() bool {
			info, err := m.Info(ctx)
			return err == nil && info.State.LastSeq == 2
		})
	}
}
