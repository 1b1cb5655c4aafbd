//go:build linux

package chaostest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readstore"
)

// Settings of the run: eight writers and two readers through two apis,
// and after each fault's recovery the load runs at least settle, and
// makes at least settleWrites writes, before the next fault.
const (
	writers      = 8
	readers      = 2
	settle       = 4 * time.Second
	settleWrites = 100
	// giveUp bounds how long a command in hand when the load ends is
	// still retried: the topology has recovered by then, or it is a bug.
	giveUp = 45 * time.Second
)

// TestChaos runs the production topology as real processes (a
// three-node NATS cluster with the stream at three replicas, Postgres,
// two apis, an active projector and a standby) under a write load, and
// meanwhile kills the stream leader's node, kills the active projector
// and restarts Postgres, restarting each. Afterwards every acknowledged command is in
// the read models exactly once, the read models equal a fresh replay of
// the stream, and no request was answered with a 500.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a NATS cluster, Postgres and the product's processes for about a minute")
	}
	began := time.Now()
	tp := startTopology(t)
	t.Logf("topology up after %s", time.Since(began).Round(time.Millisecond))

	l := newLoad(tp.apiURLs)
	soft, stop := context.WithCancel(context.Background())
	defer stop()
	hard, abandon := context.WithCancel(context.Background())
	defer abandon()
	loadDone := make(chan struct{})
	loadStart := time.Now()
	go func() { defer close(loadDone); l.run(soft, hard, writers, readers) }()
	lagDone := make(chan uint64, 1)
	go func() { lagDone <- tp.maxLag(soft) }()

	var faults []fault
	strike := func(name string) {
		now := time.Now()
		if len(faults) > 0 {
			faults[len(faults)-1].end = now
		}
		faults = append(faults, fault{name: name, start: now})
		t.Logf("%s: %s", now.Sub(loadStart).Round(time.Millisecond), name)
	}
	l.settle(t, loadStart)
	tp.killStreamLeader(t, strike)
	l.settle(t, time.Now())
	stalled := tp.killActiveProjector(t, strike)
	l.settle(t, time.Now())
	pgStalled := tp.restartPostgres(t, strike)
	l.settle(t, time.Now())

	loadEnd := time.Now()
	faults[len(faults)-1].end = loadEnd
	stop()
	select {
	case <-loadDone:
	case <-time.After(giveUp):
		abandon()
		<-loadDone
	}
	t.Logf("load ended after %s, every client done %s later", loadEnd.Sub(loadStart).Round(time.Millisecond),
		time.Since(loadEnd).Round(time.Millisecond))
	t.Log(l.report(loadStart, loadEnd, faults))
	t.Logf("the read models stood still for %s after the active projector's kill, %s after Postgres's stop; they lagged the stream by %d events at most",
		stalled.Round(time.Millisecond), pgStalled.Round(time.Millisecond), <-lagDone)
	for _, p := range l.problems {
		t.Errorf("load: %s", p)
	}

	tp.checkExactlyOnce(t, l)
	tp.checkReplay(t)
	t.Logf("wall time %s", time.Since(began).Round(time.Millisecond))
}

// settle lets the load run, from since, at least settle and settleWrites
// successful writes (and some reads), so that each fault strikes a load
// in full flow and its window shows the recovery.
func (l *load) settle(t *testing.T, since time.Time) {
	t.Helper()
	projectortest.WaitFor(t, 60*time.Second, "the load to flow", func() (bool, error) {
		now := time.Now()
		w, r := l.tally(true, since, now), l.tally(false, since, now)
		return now.Sub(since) >= settle && w.ok >= settleWrites && r.ok >= readers, nil
	})
}

// topology is the production topology, every part a process of its own.
type topology struct {
	cluster    *natsCluster
	nc         *nats.Conn
	js         jetstream.JetStream
	pg         *postgres
	dbURL      string
	db         *readstore.DB // the test's own connection to the read models
	projectors []*projectorProc
	apis       []*process
	apiURLs    []string
}

// startTopology builds the binaries and starts the NATS cluster,
// Postgres, the projector and two apis, and waits until the stream has
// three current replicas and every api is ready.
func startTopology(t *testing.T) *topology {
	t.Helper()
	bins := buildBinaries(t)
	tp := &topology{pg: startPostgres(t)}
	tp.dbURL = tp.pg.createDatabase(t, "failforward")
	tp.cluster = startCluster(t, bins.natsServer)
	tp.nc, tp.js = tp.cluster.connect(t)

	// The projectors migrate the read models, which the apis need; the
	// first to take the lease is active, the other stands by.
	for i := range 2 {
		p := &projectorProc{process: newProcess(t, fmt.Sprintf("projector %d", i+1), bins.projector, productEnv(map[string]string{
			"NATS_URL": tp.cluster.URL(), "DATABASE_URL": tp.dbURL, "METRICS_ADDR": "127.0.0.1:0",
		}))}
		p.start(t)
		tp.projectors = append(tp.projectors, p)
	}
	tp.activeProjector(t)
	for i := range 2 {
		a := newProcess(t, fmt.Sprintf("api %d", i+1), bins.api, productEnv(map[string]string{
			"NATS_URL": tp.cluster.URL(), "DATABASE_URL": tp.dbURL, "ADDR": "127.0.0.1:0",
			// One principal (no AUTH_FILE) stands for many clients here.
			"WRITES_PER_SECOND": "100000", "WRITE_BURST": "100000",
		}))
		a.start(t)
		tp.apis = append(tp.apis, a)
		tp.apiURLs = append(tp.apiURLs, a.waitLine(t, "api: listening on ", 60*time.Second))
	}
	for _, u := range tp.apiURLs {
		waitReady(t, u+"/readyz")
	}
	waitReplicated(t, tp.js, 3, 30*time.Second)

	db, err := readstore.Open(context.Background(), tp.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tp.db = db
	return tp
}

// waitReady waits until url answers 200.
func waitReady(t *testing.T, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	projectortest.WaitFor(t, 60*time.Second, url, func() (bool, error) {
		resp, err := client.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// killStreamLeader SIGKILLs the node that leads the event stream, waits
// for the others to elect a new leader, restarts the node and waits
// until it has caught up.
func (tp *topology) killStreamLeader(t *testing.T, strike func(string)) {
	t.Helper()
	info := waitReplicated(t, tp.js, 3, 30*time.Second)
	n := tp.cluster.node(t, info.Cluster.Leader)
	strike("SIGKILL of the stream leader's node " + n.name)
	n.proc.kill(t)
	leader := waitNewLeader(t, tp.js, n.name, 30*time.Second)
	t.Logf("new stream leader %s; restarting %s", leader, n.name)
	n.proc.start(t)
	tp.cluster.waitHealthy(t, n, 60*time.Second)
	waitReplicated(t, tp.js, 3, 60*time.Second)
}

// projectorProc is a projector process, with the address of its
// operations endpoints in its current run.
type projectorProc struct {
	*process
	base string
}

func (p *projectorProc) start(t *testing.T) {
	t.Helper()
	p.process.start(t)
	url := p.waitLine(t, "metrics: ", 60*time.Second)
	url, _, _ = strings.Cut(url, ",")
	p.base = strings.TrimSuffix(url, "/metrics")
}

// role is the first word of the projector's /readyz: active or standby.
func (p *projectorProc) role() string {
	client := &http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get(p.base + "/readyz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	role, _, _ := strings.Cut(string(body), ":")
	return strings.TrimSpace(strings.SplitN(role, "\n", 2)[0])
}

// activeProjector waits until one projector holds the lease, and returns
// it.
func (tp *topology) activeProjector(t *testing.T) *projectorProc {
	t.Helper()
	var active *projectorProc
	projectortest.WaitFor(t, 60*time.Second, "an active projector", func() (bool, error) {
		for _, p := range tp.projectors {
			if p.role() == "active" {
				active = p
				return true, nil
			}
		}
		return false, nil
	})
	return active
}

// killActiveProjector SIGKILLs the projector that holds the lease, waits
// until the standby has taken over and moved the read models on, and
// restarts the killed one, which stands by.
func (tp *topology) killActiveProjector(t *testing.T, strike func(string)) time.Duration {
	t.Helper()
	p := tp.activeProjector(t)
	strike("SIGKILL of the active " + p.name)
	killed := time.Now()
	p.kill(t)
	// Measured from the takeover on: a commit the killed one had sent
	// may still land after the kill.
	next := tp.activeProjector(t)
	tp.waitPast(t, tp.position(t))
	stalled := time.Since(killed)
	t.Logf("%s took over; the read models stood still for %s", next.name, stalled.Round(time.Millisecond))
	p.start(t)
	return stalled
}

// restartPostgres stops Postgres as an operator does for a restart, and
// starts it again, then waits until the apis are ready and the read
// models move on. It returns how long the read models stood still from
// the stop, which includes the projector's backoff between retries.
func (tp *topology) restartPostgres(t *testing.T, strike func(string)) time.Duration {
	t.Helper()
	at := tp.position(t)
	strike("restart of Postgres (stop -m fast, start)")
	stopped := time.Now()
	tp.pg.stop(t)
	tp.pg.start(t)
	for _, u := range tp.apiURLs {
		waitReady(t, u+"/readyz")
	}
	tp.waitPast(t, at)
	return time.Since(stopped)
}

// maxLag samples, until ctx ends, how far the read models' checkpoint
// is behind the stream's last sequence, and returns the most it saw.
func (tp *topology) maxLag(ctx context.Context) uint64 {
	var most uint64
	for ctx.Err() == nil {
		info, err := streamInfo(tp.js)
		pos, perr := tp.db.Position(ctx)
		if err == nil && perr == nil && info.State.LastSeq > pos {
			most = max(most, info.State.LastSeq-pos)
		}
		pause(ctx, 250*time.Millisecond)
	}
	return most
}

// waitPast waits until the read models' checkpoint is past at.
func (tp *topology) waitPast(t *testing.T, at uint64) {
	t.Helper()
	projectortest.WaitFor(t, 60*time.Second, fmt.Sprintf("the read models past %d", at), func() (bool, error) {
		pos, err := tp.db.Position(context.Background())
		return err == nil && pos > at, nil
	})
}

// position is the read models' checkpoint.
func (tp *topology) position(t *testing.T) uint64 {
	t.Helper()
	pos, err := tp.db.Position(context.Background())
	if err != nil {
		t.Fatalf("read the checkpoint: %v", err)
	}
	return pos
}
