package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"

	"github.com/failforward/failforward/internal/events"
)

// mirror creates the read-only mirror of the event stream that downstream
// services read, or scales an existing one up to the replicas the cluster
// allows, and returns. It connects as a user of the downstream account.
func mirror(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	replicas, err := events.ParseReplicas(getenv("STREAM_REPLICAS"))
	if err != nil {
		return fmt.Errorf("STREAM_REPLICAS: %w", err)
	}
	cfg := config{NATSURL: getenv("NATS_URL")}
	path := "deploy/downstream-mirror.json"
	fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.NATSURL, "nats-url", cfg.NATSURL, "NATS server, as a user of the downstream account (NATS_URL), required")
	fs.StringVar(&path, "config", path, "the mirror's stream configuration, in nats-server's JSON")
	fs.IntVar(&replicas, "stream-replicas", replicas, "replicas of the mirror, 1-5; 0 chooses 3 on a NATS cluster of at least three JetStream servers, else 1 (STREAM_REPLICAS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.NATSURL == "" {
		return errors.New("NATS_URL (-nats-url) is required")
	}
	stream, err := events.ReadMirrorConfig(path)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(cfg.NATSURL, nats.Name("failforward-mirror"))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", cfg.redactedNATSURL(), err)
	}
	defer nc.Close()
	m, err := events.OpenMirror(ctx, nc, events.MirrorConfig{Stream: stream, Replicas: replicas, Out: stdout})
	if err != nil {
		return err
	}
	info := m.CachedInfo()
	fmt.Fprintf(stdout, "mirror: stream %s at %s, %d replica(s), mirroring %s\n",
		info.Config.Name, cfg.redactedNATSURL(), info.Config.Replicas, info.Config.Mirror.Name)
	return nil
}
