package deploy_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
)

// freePort returns a loopback port that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startCluster runs three nodes of deploy/nats-cluster.conf on loopback,
// as the README starts them by hand: the file's settings, with each
// node's name, ports, store and routes set as its command line would.
func startCluster(t *testing.T) []*server.Server {
	t.Helper()
	t.Setenv("FAILFORWARD_NATS_PASSWORD", "failforward-secret")
	t.Setenv("DOWNSTREAM_NATS_PASSWORD", "downstream-secret")
	ports := []int{freePort(t), freePort(t), freePort(t)}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	var nodes []*server.Server
	for i, p := range ports {
		opts, err := server.ProcessConfigFile("nats-cluster.conf")
		if err != nil {
			t.Fatalf("deploy/nats-cluster.conf: %v", err)
		}
		if opts.Cluster.Name != "failforward" || opts.Cluster.Port != 6222 || len(opts.Routes) != 3 {
			t.Fatalf("nats-cluster.conf: cluster %q on port %d with %d routes, want failforward on 6222 with 3", opts.Cluster.Name, opts.Cluster.Port, len(opts.Routes))
		}
		opts.ServerName = fmt.Sprintf("nats-%d", i+1)
		opts.Port, opts.HTTPPort = -1, 0
		opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", p
		opts.Routes = server.RoutesFromStr(strings.Join(routes, ","))
		opts.StoreDir = t.TempDir()
		opts.NoLog, opts.NoSigs = true, true
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		nodes = append(nodes, s)
	}
	for _, s := range nodes {
		if !s.ReadyForConnections(10 * time.Second) {
			t.Fatalf("%s is not ready", s.Name())
		}
	}
	return nodes
}

// retry calls fn until it succeeds or 30s have passed: a new cluster
// elects its JetStream leaders first.
func retry[T any](t *testing.T, what string, fn func() (T, error)) T {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := fn()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterConfig runs deploy/nats-cluster.conf as a three-node
// cluster: the event store puts TRACKER on all three nodes by itself, and
// the downstream account's mirror, created as docker-compose.yml's
// downstream-mirror does, gets three replicas too and mirrors the events.
func TestClusterConfig(t *testing.T) {
	nodes := startCluster(t)
	urls := func(user, password string) string {
		var us []string
		for _, s := range nodes {
			us = append(us, strings.Replace(s.ClientURL(), "nats://", "nats://"+user+":"+password+"@", 1))
		}
		return strings.Join(us, ",")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nc, err := nats.Connect(urls("failforward", "failforward-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// Each attempt on its own deadline: one made before the cluster has
	// elected its JetStream leader waits for an answer that never comes.
	retry(t, "open the event store", func() (*events.Store, error) {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return events.OpenStore(actx, nc, events.StoreConfig{})
	})
	js, _ := jetstream.New(nc)
	s, err := js.Stream(ctx, events.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.Replicas; got != 3 {
		t.Errorf("TRACKER has %d replicas on a cluster of three, want 3", got)
	}
	if _, err := js.Publish(ctx, "tracker.experiment.e1.registered", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}

	down, err := nats.Connect(urls("downstream", "downstream-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	cfg, err := events.ReadMirrorConfig("downstream-mirror.json")
	if err != nil {
		t.Fatal(err)
	}
	m := retry(t, "create the downstream mirror", func() (jetstream.Stream, error) {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return events.OpenMirror(actx, down, events.MirrorConfig{Stream: cfg})
	})
	if got := m.CachedInfo().Config.Replicas; got != 3 {
		t.Errorf("the downstream mirror has %d replicas, want 3", got)
	}
	retry(t, "the mirror to hold the event", func() (uint64, error) {
		info, err := m.Info(ctx)
		if err != nil {
			return 0, err
		}
		if info.State.Msgs != 1 {
			return 0, fmt.Errorf("mirror holds %d messages, want 1", info.State.Msgs)
		}
		return info.State.Msgs, nil
	})
}
