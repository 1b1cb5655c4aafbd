package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ClusterReplicas is how many copies of the stream the store keeps on a
// NATS cluster when the configuration leaves it open: a majority of three
// survives the loss of any one machine.
const ClusterReplicas = 3

// JetStream error codes that mean the servers cannot place the replicas
// asked for.
const (
	// codeNoPeers (JSClusterNoPeersErrF): no set of JetStream servers
	// fits the placement, for instance three replicas on two servers.
	codeNoPeers jetstream.ErrorCode = 10005
	// codeInsufficientResources (JSInsufficientResourcesErr).
	codeInsufficientResources jetstream.ErrorCode = 10023
	// codeReplicasNotSupported (JSStreamReplicasNotSupportedErr): a
	// server outside any cluster.
	codeReplicasNotSupported jetstream.ErrorCode = 10074
)

// ParseReplicas reads a configured replica count: "" or "0" chooses (see
// StoreConfig.Replicas), 1 to 5 asks for that many.
func ParseReplicas(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 5 {
		return 0, fmt.Errorf("replicas %q must be a whole number from 1 to 5, or 0 to choose", s)
	}
	return n, nil
}

// replicaPlan decides how many replicas a stream gets.
//
// What a client can learn of a cluster does not count its JetStream
// servers: INFO's cluster name says whether the server is clustered at
// all, but its connect_urls lists every server, with JetStream or not,
// and nothing when the cluster does not advertise; the account info of
// $JS.API.INFO has no peer count, and the server's own figures ($SYS
// requests) need the system account. So on a cluster the plan asks for
// three replicas, and the placement the servers make, or refuse (no
// suitable peers, insufficient resources), is the count: it succeeds
// exactly when three JetStream servers can hold a copy.
type replicaPlan struct {
	// target is the replica count to ask for.
	target int
	// auto is set when the count was chosen rather than configured: only
	// then does a refused placement fall back to one replica.
	auto bool
	out  io.Writer
	// role names the stream in what the plan reports: "event store" or
	// "mirror".
	role string
}

// newReplicaPlan plans for configured replicas, 0 meaning automatic.
func newReplicaPlan(nc *nats.Conn, configured int, out io.Writer, role string) replicaPlan {
	p := replicaPlan{target: configured, out: out, role: role}
	switch {
	case configured > 0:
	case nc.ConnectedClusterName() == "":
		// A server outside any cluster announces no cluster name, and
		// could only refuse more than one replica.
		p.target, p.auto = 1, true
	default:
		p.target, p.auto = ClusterReplicas, true
	}
	return p
}

// open returns the stream named in cfg, created as cfg says (with the
// plan's replicas) when it does not exist yet.
func (p replicaPlan) open(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg.Replicas = p.target
	st, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = p.create(ctx, js, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Name, classify(err))
	}
	return st, nil
}

// create makes the stream. Creating an identical stream is idempotent on
// the server, so two processes starting at once both succeed; a
// differing one made by someone else in between is returned as it is,
// for the caller to check.
func (p replicaPlan) create(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := js.CreateStream(ctx, cfg)
	if err != nil && p.auto && cfg.Replicas > 1 && cannotPlace(err) {
		fmt.Fprintf(p.out, "%s: stream %s created with 1 replica: the cluster cannot place %d (%v); it is scaled up at a later start\n",
			p.role, cfg.Name, cfg.Replicas, err)
		cfg.Replicas = 1
		st, err = js.CreateStream(ctx, cfg)
	}
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.Stream(ctx, cfg.Name)
	}
	return st, err
}

// scale raises an existing stream's replicas to the plan's target in
// place; more replicas than the target are kept. When the count was
// chosen and the cluster cannot place that many, the stream keeps what it
// has and the refusal is reported, since a stream with fewer copies beats
// an api that does not start.
func (p replicaPlan) scale(ctx context.Context, js jetstream.JetStream, st jetstream.Stream) (jetstream.Stream, error) {
	cfg := st.CachedInfo().Config
	from := max(cfg.Replicas, 1)
	if from >= p.target {
		return st, nil
	}
	cfg.Replicas = p.target
	next, err := js.UpdateStream(ctx, cfg)
	switch {
	case err == nil:
		fmt.Fprintf(p.out, "%s: stream %s scaled from %d to %d replicas\n", p.role, cfg.Name, from, p.target)
		return next, nil
	case p.auto && cannotPlace(err):
		fmt.Fprintf(p.out, "%s: stream %s keeps %d replica(s): the cluster cannot place %d (%v)\n", p.role, cfg.Name, from, p.target, err)
		return st, nil
	}
	return nil, fmt.Errorf("scale stream %s from %d to %d replicas: %w", cfg.Name, from, p.target, classify(err))
}

// cannotPlace reports a server that refused a stream's replica count.
func cannotPlace(err error) bool {
	return isCode(err, codeNoPeers) || isCode(err, codeInsufficientResources) || isCode(err, codeReplicasNotSupported)
}
