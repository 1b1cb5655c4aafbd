//go:build linux

package chaostest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/projector/projectortest"
)

// natsNode is one nats-server of the cluster, on ports that stay the same
// across its restarts, with its own store directory.
type natsNode struct {
	name                             string
	clientPort, clusterPort, monPort int
	proc                             *process
}

// natsCluster is a three-node NATS cluster with JetStream on each node.
type natsCluster struct {
	nodes []*natsNode
}

// startCluster starts three nats-server processes that route to each
// other, and waits until each reports itself healthy.
func startCluster(t *testing.T, bin string) *natsCluster {
	t.Helper()
	c := &natsCluster{}
	for i := range 3 {
		c.nodes = append(c.nodes, &natsNode{
			name:       fmt.Sprintf("n%d", i+1),
			clientPort: freePort(t), clusterPort: freePort(t), monPort: freePort(t),
		})
	}
	var routes []string
	for _, n := range c.nodes {
		routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("nats-route://127.0.0.1:%d", n.clusterPort)))
	}
	dir := t.TempDir()
	for _, n := range c.nodes {
		conf := filepath.Join(dir, n.name+".conf")
		body := fmt.Sprintf(`server_name: %q
listen: "127.0.0.1:%d"
http: "127.0.0.1:%d"
jetstream { store_dir: %q }
cluster {
  name: "chaos"
  listen: "127.0.0.1:%d"
  routes: [%s]
}
`, n.name, n.clientPort, n.monPort, filepath.Join(dir, n.name), n.clusterPort, strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		n.proc = newProcess(t, "nats "+n.name, bin, productEnv(nil), "-c", conf)
		n.proc.start(t)
	}
	for _, n := range c.nodes {
		c.waitHealthy(t, n, 30*time.Second)
	}
	return c
}

// URL names every node, as a client of the cluster is configured.
func (c *natsCluster) URL() string {
	var urls []string
	for _, n := range c.nodes {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", n.clientPort))
	}
	return strings.Join(urls, ",")
}

// node returns the node of a server name.
func (c *natsCluster) node(t *testing.T, name string) *natsNode {
	t.Helper()
	for _, n := range c.nodes {
		if n.name == name {
			return n
		}
	}
	t.Fatalf("no node named %q", name)
	return nil
}

// waitHealthy waits until the node's /healthz answers 200: JetStream is
// up, knows its meta leader, and its streams are current.
func (c *natsCluster) waitHealthy(t *testing.T, n *natsNode, timeout time.Duration) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", n.monPort)
	client := &http.Client{Timeout: 2 * time.Second}
	projectortest.WaitFor(t, timeout, "nats "+n.name+" healthy", func() (bool, error) {
		resp, err := client.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// connect returns a connection to the cluster for the test's own looks at
// the stream, reconnecting to whichever node is up.
func (c *natsCluster) connect(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URL(), nats.Name("chaos-test"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// streamInfo reads the event stream's info, or returns the error that
// kept it from answering (as during an election).
func streamInfo(js jetstream.JetStream) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.DefaultStream)
	if err != nil {
		return nil, err
	}
	return s.Info(ctx)
}

// waitReplicated waits until the stream has a leader and every one of
// its replicas is current.
func waitReplicated(t *testing.T, js jetstream.JetStream, replicas int, timeout time.Duration) *jetstream.StreamInfo {
	t.Helper()
	var info *jetstream.StreamInfo
	projectortest.WaitFor(t, timeout, fmt.Sprintf("stream %s at %d current replicas", events.DefaultStream, replicas), func() (bool, error) {
		var err error
		if info, err = streamInfo(js); err != nil {
			return false, nil
		}
		if info.Config.Replicas != replicas || info.Cluster == nil || info.Cluster.Leader == "" ||
			len(info.Cluster.Replicas) != replicas-1 {
			return false, nil
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false, nil
			}
		}
		return true, nil
	})
	return info
}

// waitNewLeader waits until the stream has a leader other than old.
func waitNewLeader(t *testing.T, js jetstream.JetStream, old string, timeout time.Duration) string {
	t.Helper()
	var leader string
	projectortest.WaitFor(t, timeout, "a new stream leader", func() (bool, error) {
		info, err := streamInfo(js)
		if err != nil || info.Cluster == nil {
			return false, nil
		}
		leader = info.Cluster.Leader
		return leader != "" && leader != old, nil
	})
	return leader
}
