package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MirrorConfig configures OpenMirror.
type MirrorConfig struct {
	// Stream is the mirror as nats-server takes it, for instance
	// deploy/downstream-mirror.json read by ReadMirrorConfig. Its
	// num_replicas is what `nats stream add` would use; OpenMirror
	// chooses its own unless Replicas says otherwise.
	Stream jetstream.StreamConfig
	// Replicas is the mirror's replica count, chosen like
	// StoreConfig.Replicas when 0.
	Replicas int
	// Out receives the same startup lines as StoreConfig.Out.
	Out io.Writer
}

// ReadMirrorConfig reads a mirror's stream configuration from a JSON file
// in nats-server's format.
func ReadMirrorConfig(path string) (jetstream.StreamConfig, error) {
	var cfg jetstream.StreamConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read mirror config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("parse mirror config %s: %w", path, err)
	}
	return cfg, nil
}

// OpenMirror makes sure the read-only mirror of the event stream that
// downstream services read exists, with as many replicas as the event
// store would choose on the same cluster, and returns it. A missing mirror
// is created; an existing one with fewer replicas is scaled up in place
// (which needs $JS.API.STREAM.UPDATE on it); its other settings are left
// as they are, since a mirror's origin cannot be changed anyway.
func OpenMirror(ctx context.Context, nc *nats.Conn, cfg MirrorConfig) (jetstream.Stream, error) {
	if cfg.Stream.Mirror == nil {
		return nil, errors.New("open mirror: the stream configuration has no mirror")
	}
	if cfg.Replicas < 0 || cfg.Replicas > 5 {
		return nil, fmt.Errorf("open mirror: replicas %d out of range 1-5 (0 chooses)", cfg.Replicas)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	plan := newReplicaPlan(nc, cfg.Replicas, cfg.Out, "mirror")
	st, err := plan.open(ctx, js, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	if st.CachedInfo().Config.Mirror == nil {
		return nil, fmt.Errorf("open mirror: stream %s exists and is not a mirror", cfg.Stream.Name)
	}
	if st, err = plan.scale(ctx, js, st); err != nil {
		return nil, fmt.Errorf("open mirror: %w", err)
	}
	return st, nil
}
