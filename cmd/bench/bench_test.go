package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/readstore"
)

// tinyScale runs every scenario in seconds: enough to show that each
// still runs end to end, not to say anything about speed.
var tinyScale = scale{
	name: "tiny", appendFor: 500 * time.Millisecond, appendClients: 8,
	lagRate: 200, lagFor: time.Second, lagFloorFor: 300 * time.Millisecond,
	events: 3000, experiments: 300, requests: 20, queryBudget: 500 * time.Millisecond,
	growth: []int{30, 100, 300},
}

// TestTinyRun runs every scenario at a tiny scale, on Postgres too when
// DATABASE_URL is set, and checks that each printed its figures and that
// the last line is the count of targets. Targets may be missed at this
// scale; a scenario that cannot run fails the test.
func TestTinyRun(t *testing.T) {
	var out bytes.Buffer
	profiles := t.TempDir()
	rep, err := runBench(t.Context(), options{scale: tinyScale, databaseURL: os.Getenv("DATABASE_URL"), profileDir: profiles}, &out)
	if err != nil {
		t.Fatalf("runBench: %v", err)
	}
	t.Log("\n" + out.String())
	if rep.errored {
		t.Errorf("a scenario could not run:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^\d+ passed, \d+ failed(, \d+ skipped)?$`).MatchString(last) {
		t.Errorf("last line = %q, want the count of targets passed and failed", last)
	}
	for _, want := range []string{
		"append ", "lag/sqlite ", "replay/sqlite ", "queries/sqlite ", "rebuild/sqlite ", "growth/sqlite ",
	} {
		if !strings.Contains(out.String(), "\n"+want) {
			t.Errorf("no figure of %q in the output", strings.TrimSpace(want))
		}
	}
	if os.Getenv("DATABASE_URL") != "" && !strings.Contains(out.String(), "\nreplay/pg ") {
		t.Errorf("DATABASE_URL is set, but no Postgres replay figure was printed")
	}
	// With -cpuprofile, the bench profiles its own side of each scenario,
	// and each program it starts writes a profile of its own on exit.
	for _, glob := range []string{"replay.cpu.pprof", "replay.*.projector.cpu.pprof", "append.*.api.cpu.pprof", "rebuild.*.projector-rebuild.cpu.pprof"} {
		files, _ := filepath.Glob(filepath.Join(profiles, glob))
		if len(files) == 0 {
			t.Errorf("no profile %s in the profile directory", glob)
		}
		for _, f := range files {
			if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
				t.Errorf("profile %s is empty (%v)", f, err)
			}
		}
	}
	// Each growth read is timed at every size, beside its ratio.
	if n := strings.Count(out.String(), "\ngrowth/sqlite  p99 "); n != len(growthQueries(time.Time{})) {
		t.Errorf("%d growth figures on SQLite, want %d", n, len(growthQueries(time.Time{})))
	}
}

func TestPercentile(t *testing.T) {
	var l latencies
	for i := 1; i <= 100; i++ {
		l = append(l, time.Duration(101-i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {1, time.Millisecond}} {
		if got := l.percentile(c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := (latencies{}).percentile(99); got != 0 {
		t.Errorf("percentile of nothing = %v, want 0", got)
	}
}

// TestRunSelectsStores checks -run: a scenario's name selects it on
// every store, and its name with a store's suffix on that store alone.
func TestRunSelectsStores(t *testing.T) {
	for _, c := range []struct {
		run                      string
		scenario, onPG, onSQLite bool
	}{
		{"", true, true, true},
		{"replay", true, true, true},
		{"replay/pg", true, true, false},
		{"replay/sqlite", true, false, true},
		{"lag", false, false, false},
		{"^(append|replay/pg)$", true, true, false},
	} {
		o := options{}
		if c.run != "" {
			o.only = regexp.MustCompile(c.run)
		}
		got := [3]bool{o.selectsScenario("replay"), o.selects(label("replay", readstore.Postgres)), o.selects(label("replay", readstore.SQLite))}
		if want := [3]bool{c.scenario, c.onPG, c.onSQLite}; got != want {
			t.Errorf("-run %q: scenario, on Postgres, on SQLite = %v, want %v", c.run, got, want)
		}
	}
}
