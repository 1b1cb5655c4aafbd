package events_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
)

// startCluster runs a JetStream cluster of n embedded servers, each with
// its own store and routes to the others on free ports, and returns once
// the cluster has a meta leader. It connects to the first server.
func startCluster(t *testing.T, n int) ([]*server.Server, *nats.Conn) {
	t.Helper()
	ports := freePorts(t, n)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	servers := make([]*server.Server, n)
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("node-%d", i+1),
			Host:       "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(),
			Cluster: server.ClusterOpts{Name: "tracker-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:   true, NoSigs: true,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		servers[i] = s
	}
	// Ready once the meta leader has current stats from every peer: until
	// then it places nothing on a peer it has not heard from.
	eventually(t, "the cluster has a meta leader that knows every peer", func() bool {
		for _, s := range servers {
			if s.JetStreamIsLeader() {
				return len(s.JetStreamClusterPeers()) == n
			}
		}
		return false
	})
	nc, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return servers, nc
}

// eventually polls cond until it holds, failing the test after 15s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 15s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePorts returns n ports that were free a moment ago: cluster routes
// must be known before the servers start.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// lockedBuffer is a bytes.Buffer safe to read while OpenStore writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openStoreEventually opens the store, retrying while a young cluster is
// still electing leaders, which answers "temporarily unavailable".
func openStoreEventually(t *testing.T, nc *nats.Conn, cfg events.StoreConfig) *events.Store {
	t.Helper()
	var (
		s   *events.Store
		err error
	)
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err = events.OpenStore(ctx, nc, cfg)
		cancel()
		if err == nil || !errors.Is(err, events.ErrUnavailable) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	return s
}

func TestReplicasOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	t.Run("automatic choice gives three", func(t *testing.T) {
		_, nc := startCluster(t, 3)
		s := openStoreEventually(t, nc, events.StoreConfig{})
		if got := rawStreamConfig(t, s).Replicas; got != 3 {
			t.Errorf("replicas = %d, want 3", got)
		}
		id := newID()
		appendOK(t, s, "experiment", id, 0, withLearnings(id, 2), "")
	})

	t.Run("two servers give one", func(t *testing.T) {
		_, nc := startCluster(t, 2)
		var out lockedBuffer
		s := openStoreEventually(t, nc, events.StoreConfig{Out: &out})
		if got := rawStreamConfig(t, s).Replicas; got != 1 {
			t.Errorf("replicas = %d, want 1", got)
		}
		if !strings.Contains(out.String(), "stream TRACKER created with 1 replica: the cluster cannot place 3") {
			t.Errorf("startup said %q, want why the stream has one replica", out.String())
		}
	})

	t.Run("a stream of one replica is scaled to three", func(t *testing.T) {
		_, nc := startCluster(t, 3)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
			Name: "OLD", Subjects: []string{"tracker.>"}, Storage: jetstream.FileStorage, Discard: jetstream.DiscardNew, Replicas: 1,
		}); err != nil {
			t.Fatal(err)
		}
		var out lockedBuffer
		s := openStoreEventually(t, nc, events.StoreConfig{Stream: "OLD", Out: &out})
		if got := rawStreamConfig(t, s).Replicas; got != 3 {
			t.Errorf("replicas = %d, want 3", got)
		}
		if want := "event store: stream OLD scaled from 1 to 3 replicas\n"; out.String() != want {
			t.Errorf("startup said %q, want %q", out.String(), want)
		}
		// The stream keeps its settings and takes writes.
		id := newID()
		appendOK(t, s, "experiment", id, 0, withLearnings(id, 1), "")

		// Opening again changes nothing and says nothing.
		out = lockedBuffer{}
		openStoreEventually(t, nc, events.StoreConfig{Stream: "OLD", Out: &out})
		if out.String() != "" {
			t.Errorf("second open said %q, want nothing", out.String())
		}
	})
}

func TestReplicasOnASingleServer(t *testing.T) {
	_, nc := natsembedtest.Start(t)
	var out lockedBuffer
	s := openStore(t, nc, events.StoreConfig{Out: &out})
	if got := rawStreamConfig(t, s).Replicas; got != 1 {
		t.Errorf("replicas = %d, want 1", got)
	}
	if out.String() != "" {
		t.Errorf("startup said %q, want nothing", out.String())
	}
	// Three replicas asked for explicitly cannot be had, and say why.
	_, err := events.OpenStore(t.Context(), nc, events.StoreConfig{Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), "from 1 to 3 replicas") {
		t.Errorf("OpenStore with 3 replicas on one server = %v, want a scaling error", err)
	}
}

// TestAppendWhileTheLeaderIsLost shuts down the server leading the stream
// while a writer appends two-event batches: every failed append reports
// ErrUnavailable (or a conflict, when a timed-out batch did land), never
// another error, appends succeed again once a new leader is elected, and
// no batch is ever half written.
func TestAppendWhileTheLeaderIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-node cluster")
	}
	servers, first := startCluster(t, 3)
	openStoreEventually(t, first, events.StoreConfig{})
	var leader *server.Server
	var urls []string
	for _, s := range servers {
		if s.JetStreamIsStreamLeader("$G", events.DefaultStream) {
			leader = s
		} else {
			urls = append(urls, s.ClientURL())
		}
	}
	if leader == nil {
		t.Fatal("no stream leader")
	}
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectBufSize(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s := openStoreEventually(t, nc, events.StoreConfig{})
	id := newID()
	exp := appendOK(t, s, "experiment", id, 0, []events.Envelope{registered(id)}, "").LastSequence

	leader.Shutdown()
	failures := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := s.Append(ctx, "experiment", id, exp, []events.Envelope{learning(id), learning(id)}, "")
		cancel()
		if err == nil {
			break
		}
		failures++
		switch {
		case errors.Is(err, events.ErrConflict):
			recs, lerr := s.Load(context.Background(), "experiment", id)
			if lerr == nil {
				exp = recs[len(recs)-1].Sequence
			}
		case !errors.Is(err, events.ErrUnavailable):
			t.Fatalf("append while the leader is lost: %v, want ErrUnavailable", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("appends still fail 20s after the leader was lost: %v", err)
		}
	}
	t.Logf("%d appends failed while a new leader was elected", failures)
	recs, err := s.Load(context.Background(), "experiment", id)
	if err != nil {
		t.Fatal(err)
	}
	if learnings := len(recs) - 1; learnings == 0 || learnings%2 != 0 {
		t.Errorf("the aggregate holds %d learnings, want a whole number of two-event batches", learnings)
	}
}
