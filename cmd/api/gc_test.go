package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestTuneGC checks that the api raises the collector's target only when
// it serves alone and GOGC is unset.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	split := config{NATSURL: "nats://127.0.0.1:4222", DatabaseURL: "postgres://db/ff"}
	cases := []struct {
		name string
		cfg  config
		gogc string
		want int
	}{
		{"projector apart", split, "", serveOnlyGCPercent},
		{"operator's GOGC", split, "150", 100},
		{"projector in-process", config{}, "", 100},
		{"embedded JetStream, external database", config{DatabaseURL: "postgres://db/ff"}, "", 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			var out strings.Builder
			tuneGC(c.cfg, func(k string) string {
				if k == "GOGC" {
					return c.gogc
				}
				return ""
			}, &out)
			if got := debug.SetGCPercent(100); got != c.want {
				t.Errorf("GC percent = %d, want %d", got, c.want)
			}
			if said := strings.Contains(out.String(), "GOGC="); said != (c.want == serveOnlyGCPercent) {
				t.Errorf("output %q: says GOGC %v, want %v", out.String(), said, !said)
			}
		})
	}
}
