package main

import (
	"io"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/natsembed"
)

func TestConfigReplicasAndSync(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		replicas int
		sync     natsembed.SyncPolicy
		err      string
	}{
		{name: "defaults", env: map[string]string{}, sync: natsembed.SyncAlways},
		{name: "from the environment", env: map[string]string{"STREAM_REPLICAS": "3", "EMBEDDED_SYNC": "interval"}, replicas: 3, sync: natsembed.SyncInterval},
		{name: "a flag wins", env: map[string]string{"STREAM_REPLICAS": "3"}, args: []string{"-stream-replicas", "1", "-embedded-sync", "always"}, replicas: 1, sync: natsembed.SyncAlways},
		{name: "replicas not a number", env: map[string]string{"STREAM_REPLICAS": "three"}, err: "STREAM_REPLICAS"},
		{name: "replicas out of range", env: map[string]string{}, args: []string{"-stream-replicas", "7"}, err: "-stream-replicas"},
		{name: "unknown sync", env: map[string]string{"EMBEDDED_SYNC": "never"}, err: "EMBEDDED_SYNC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseConfig = %v, want an error about %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.StreamReplicas != tt.replicas || c.EmbeddedSync != tt.sync {
				t.Errorf("replicas %d, sync %q; want %d, %q", c.StreamReplicas, c.EmbeddedSync, tt.replicas, tt.sync)
			}
		})
	}
}
