package natsembed_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/natsembed"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
)

func start(t *testing.T, cfg natsembed.Config) *natsembed.Server {
	t.Helper()
	srv, err := natsembed.Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// createStream connects to srv and creates a small file-backed stream
// holding one message, so that the store directory has something to lose.
func createStream(t *testing.T, srv *natsembed.Server, name string) {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{strings.ToLower(name) + ".>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, strings.ToLower(name)+".x", []byte("kept")); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func streamMsgs(t *testing.T, srv *natsembed.Server, name string) uint64 {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return st.CachedInfo().State.Msgs
}

func TestStart(t *testing.T) {
	dir := t.TempDir()
	srv := start(t, natsembed.Config{StoreDir: dir})

	if got := srv.ClientURL(); !strings.HasPrefix(got, "nats://127.0.0.1:") || strings.HasSuffix(got, ":4222") {
		t.Errorf("ClientURL() = %q, want a free port on 127.0.0.1", got)
	}
	if got := srv.StoreDir(); got != dir {
		t.Errorf("StoreDir() = %q, want %q", got, dir)
	}
	if !srv.JetStreamEnabled() {
		t.Fatal("JetStream is not enabled")
	}
	createStream(t, srv, "PROBE")
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Errorf("JetStream data is not under the store dir: %v", err)
	}
}

// An acknowledged write survives a power loss only if it was synced
// first, so that is what a server gets unless it asks otherwise.
func TestSyncPolicy(t *testing.T) {
	for _, tt := range []struct {
		sync natsembed.SyncPolicy
		want bool
	}{{"", true}, {natsembed.SyncAlways, true}, {natsembed.SyncInterval, false}} {
		srv := start(t, natsembed.Config{StoreDir: t.TempDir(), Sync: tt.sync})
		if got := srv.JetStreamConfig().SyncAlways; got != tt.want {
			t.Errorf("Sync %q: JetStream sync always = %t, want %t", tt.sync, got, tt.want)
		}
	}
}

func TestStartWithHelper(t *testing.T) {
	_, nc := natsembedtest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("account info: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  natsembed.Config
		want []string
	}{
		{"ok", natsembed.Config{StoreDir: "x", Port: -1}, nil},
		{"ok fixed port", natsembed.Config{StoreDir: "x", Port: 14222}, nil},
		{"no store dir", natsembed.Config{}, []string{"store dir"}},
		{"sync interval", natsembed.Config{StoreDir: "x", Sync: natsembed.SyncInterval}, nil},
		{"every problem at once", natsembed.Config{Port: 70000, ReadyTimeout: -time.Second, Sync: "sometimes"}, []string{"store dir", "port 70000", "ready timeout", `sync policy "sometimes"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors about %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

// nats-server 2.15 takes no lock on its store directory (two servers on one
// directory both start and corrupt each other's files), so natsembed must.
func TestStartLockedStoreDir(t *testing.T) {
	dir := t.TempDir()
	first, err := natsembed.Start(natsembed.Config{StoreDir: dir})
	if err != nil {
		t.Fatalf("first Start: %v", err)
	}
	t.Cleanup(first.Shutdown)
	createStream(t, first, "KEPT")

	second, err := natsembed.Start(natsembed.Config{StoreDir: dir})
	if err == nil {
		second.Shutdown()
		t.Fatal("second Start on a store dir in use succeeded, want ErrStoreLocked")
	}
	t.Logf("second Start: %v", err)
	if !errors.Is(err, natsembed.ErrStoreLocked) {
		t.Errorf("second Start: %v, want ErrStoreLocked", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("second Start: %q, want it to name the directory %s", err, dir)
	}

	// Once the first server is gone the directory is free again, with its
	// data.
	first.Shutdown()
	third := start(t, natsembed.Config{StoreDir: dir})
	if got := streamMsgs(t, third, "KEPT"); got != 1 {
		t.Errorf("messages after restart = %d, want 1", got)
	}
}

func TestStartDamagedStore(t *testing.T) {
	dir := t.TempDir()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: dir})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	createStream(t, srv, "HISTORY")
	srv.Shutdown()

	meta := filepath.Join(dir, "jetstream", "$G", "streams", "HISTORY", "meta.inf")
	if err := os.WriteFile(meta, []byte("{not json"), 0o600); err != nil {
		t.Fatalf("damage %s: %v", meta, err)
	}

	srv, err = natsembed.Start(natsembed.Config{StoreDir: dir})
	if err == nil {
		srv.Shutdown()
		t.Fatal("Start on a damaged store succeeded, want ErrStoreDamaged")
	}
	t.Logf("Start on a damaged store: %v", err)
	if !errors.Is(err, natsembed.ErrStoreDamaged) {
		t.Errorf("Start: %v, want ErrStoreDamaged", err)
	}
	for _, want := range []string{dir, "HISTORY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start: %q, want it to mention %q", err, want)
		}
	}
	// A failed start releases the lock: the operator can repair and retry.
	if err := os.RemoveAll(filepath.Join(dir, "jetstream", "$G", "streams", "HISTORY")); err != nil {
		t.Fatal(err)
	}
	start(t, natsembed.Config{StoreDir: dir})
}

func TestStartStoreDirIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "store")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := natsembed.Start(natsembed.Config{StoreDir: file})
	if err == nil {
		srv.Shutdown()
		t.Fatal("Start with a file as store dir succeeded")
	}
	if !strings.Contains(err.Error(), file) {
		t.Errorf("Start: %q, want it to name %s", err, file)
	}
}

func TestStartPortInUse(t *testing.T) {
	srv := start(t, natsembed.Config{StoreDir: t.TempDir()})
	p := srv.Addr().(*net.TCPAddr).Port
	begin := time.Now()
	other, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir(), Port: p, ReadyTimeout: 5 * time.Second})
	if err == nil {
		other.Shutdown()
		t.Fatal("Start on a port in use succeeded")
	}
	t.Logf("Start on a port in use: %v", err)
	if d := time.Since(begin); d > 4*time.Second {
		t.Errorf("Start took %s to fail, want it to fail as soon as the listener does", d)
	}
}

func TestLogger(t *testing.T) {
	var buf syncBuffer
	start(t, natsembed.Config{StoreDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if !strings.Contains(buf.String(), "component=nats-server") {
		t.Errorf("log = %q, want nats-server lines", buf.String())
	}
}

func TestShutdownTwice(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	srv.Shutdown()
}

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
