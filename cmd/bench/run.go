package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/readstore"
)

// scale sizes a run. The full scale is the one the targets are set for;
// the others shrink durations and data so that every scenario runs in a
// short time, with figures that are indicative only.
type scale struct {
	name string
	// appendFor is how long each side of the append scenario runs, after
	// a warm-up of a fifth of it.
	appendFor     time.Duration
	appendClients int
	// lagRate and lagFor are the live lag scenario's load; lagFloorFor is
	// how long its baseline, a trickle of commands, runs.
	lagRate     int
	lagFor      time.Duration
	lagFloorFor time.Duration
	// events and experiments size the generated history that the replay,
	// query and rebuild scenarios share.
	events      int
	experiments int
	// requests is how many requests each query figure is measured over,
	// unless queryBudget runs out first.
	requests    int
	queryBudget time.Duration
	// growth is how many experiments the growth scenario measures its
	// reads at, smallest first.
	growth []int
}

var (
	fullScale = scale{
		name: "full", appendFor: 15 * time.Second, appendClients: 64,
		lagRate: 2000, lagFor: 30 * time.Second, lagFloorFor: 5 * time.Second,
		events: 1_000_000, experiments: 100_000, requests: 2000, queryBudget: 10 * time.Second,
		growth: []int{10_000, 30_000, 100_000},
	}
	quickScale = scale{
		name: "quick", appendFor: 3 * time.Second, appendClients: 64,
		lagRate: 2000, lagFor: 5 * time.Second, lagFloorFor: 2 * time.Second,
		events: 50_000, experiments: 5_000, requests: 200, queryBudget: 4 * time.Second,
		growth: []int{1_000, 3_000, 10_000},
	}
)

// options are the command's flags.
type options struct {
	scale scale
	// only selects scenarios by name; nil runs every one.
	only *regexp.Regexp
	// profileDir receives a CPU profile of each scenario, when set: of
	// the bench's own work (load, baselines), since the programs offer no
	// profile of theirs.
	profileDir string
	// databaseURL names the Postgres server to create databases on;
	// empty skips the Postgres figures.
	databaseURL string
	// keep leaves the run's files and databases in place.
	keep bool
}

// errMissed reports a full run that missed a target; the figures say
// which.
var errMissed = errors.New("targets missed")

// errBroken reports a scenario that could not run.
var errBroken = errors.New("a scenario could not run")

// run parses the flags, runs the selected scenarios and prints their
// figures, then the count of targets passed and failed.
//
// Exit status: non-zero when a scenario could not run, and, in a full
// run, when a target was missed. A -quick run's figures are scaled down,
// so its misses are printed and counted but do not fail it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "a scaled-down run of every scenario (a few minutes); misses do not fail it")
	only := fs.String("run", "", "run only the scenarios whose name matches this regular expression (append, lag, replay, queries, rebuild, growth; replay/pg or replay/sqlite for one store)")
	profile := fs.String("cpuprofile", "", "write CPU profiles into this directory: the bench's own work in each scenario, and each api and projector it starts")
	keep := fs.Bool("keep", false, "keep the temporary directory and the Postgres databases, and print where they are, for a look at what missed")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: bench [-quick] [-run regexp] [-cpuprofile dir] [-keep]\n\n"+
			"Runs failforward's benchmark scenarios and prints each figure beside its\n"+
			"baseline and target. Postgres figures need DATABASE_URL (a server where the\n"+
			"benchmark may create and drop databases); without it they are skipped.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	opts := options{scale: fullScale, profileDir: *profile, keep: *keep, databaseURL: getenv("DATABASE_URL")}
	if *quick {
		opts.scale = quickScale
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return fmt.Errorf("-run: %w", err)
		}
		opts.only = re
	}
	rep, err := runBench(ctx, opts, stdout)
	if err != nil {
		return err
	}
	switch {
	case rep.errored:
		return errBroken
	case rep.failed > 0 && opts.scale.name == fullScale.name:
		return errMissed
	}
	return nil
}

// bench is one run: its options, where it keeps its files, and what the
// scenarios share.
type bench struct {
	opts options
	rep  *report
	dir  string
	pg   *postgres
	bin  programs
	// client reads the programs' /readyz and /metrics, and serves the
	// query figures.
	client *http.Client
	// data is the generated history, published once and replayed by
	// several scenarios, or dataErr the reason it could not be.
	data    *dataset
	dataErr error
	// projected holds, per dialect, a read store with data applied, and
	// how long the projector took to apply it from empty.
	projected map[readstore.Dialect]projected
	// scenario is the scenario running, and started counts the programs
	// started in it: they name the programs' own CPU profiles.
	scenario string
	started  int
}

type projected struct {
	url    string
	replay time.Duration
}

// scenarios in the order they run: the ones with their own small streams
// first, then the ones that share the generated history, then growth,
// which grows a history of its own.
var scenarios = []struct {
	name string
	run  func(b *bench, ctx context.Context) error
}{
	{"append", (*bench).appendScenario},
	{"lag", eachDialect("lag", (*bench).lag)},
	{"replay", (*bench).replayScenario},
	{"queries", eachDialect("queries", (*bench).queries)},
	{"rebuild", eachDialect("rebuild", (*bench).rebuild)},
	{"growth", eachDialect("growth", (*bench).growth)},
}

// runBench runs the scenarios opts selects and prints their figures to
// out, ending with the summary line.
func runBench(ctx context.Context, opts options, out io.Writer) (*report, error) {
	dir, err := os.MkdirTemp("", "failforward-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{opts: opts, rep: newReport(out), dir: dir, client: newClient(queryClients),
		projected: map[readstore.Dialect]projected{}}
	if opts.databaseURL != "" {
		if b.pg, err = openPostgres(ctx, opts.databaseURL); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	defer func() {
		switch {
		case opts.keep && b.pg != nil:
			b.pg.admin.Close()
		case b.pg != nil:
			b.pg.close()
		}
		if !opts.keep {
			os.RemoveAll(dir)
		}
	}()
	if opts.profileDir != "" {
		if err := os.MkdirAll(opts.profileDir, 0o755); err != nil {
			return nil, err
		}
	}
	defer b.closeData()

	pgNote := "Postgres from DATABASE_URL"
	if b.pg == nil {
		pgNote = "no DATABASE_URL: Postgres figures skipped"
	}
	fmt.Fprintf(out, "failforward bench, %s scale: %d CPUs, %s, %s\n", opts.scale.name, runtime.NumCPU(), runtime.Version(), pgNote)
	start := time.Now()
	if b.bin, err = buildPrograms(ctx, dir); err != nil {
		return nil, err
	}
	b.rep.notef("programs", "cmd/api and cmd/projector built in %.1fs", time.Since(start).Seconds())
	for _, s := range scenarios {
		if !opts.selectsScenario(s.name) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if err := b.profiled(s.name, func() error { return s.run(b, ctx) }); err != nil {
			b.rep.fail(s.name, err)
		}
	}
	if err := ctx.Err(); err != nil {
		b.rep.fail("bench", fmt.Errorf("interrupted: %w", err))
	}
	if opts.keep {
		kept := dir
		if b.pg != nil {
			kept += "; Postgres databases " + strings.Join(b.pg.created, ", ")
		}
		b.rep.notef("bench", "kept %s", kept)
	}
	b.rep.summary()
	return b.rep, nil
}

// profiled runs fn under a CPU profile written to the profile directory,
// when there is one.
func (b *bench) profiled(name string, fn func() error) error {
	b.scenario, b.started = name, 0
	if b.opts.profileDir == "" {
		return fn()
	}
	f, err := os.Create(filepath.Join(b.opts.profileDir, name+".cpu.pprof"))
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return fn()
}

// programProfile is the setting that has a program about to start, name,
// write its own CPU profile into the profile directory (as
// <scenario>.<n>.<name>.cpu.pprof) when there is one.
func (b *bench) programProfile(name string) []string {
	if b.opts.profileDir == "" {
		return nil
	}
	b.started++
	file := fmt.Sprintf("%s.%d.%s.cpu.pprof", b.scenario, b.started, strings.ReplaceAll(name, " ", "-"))
	return []string{"CPU_PROFILE=" + filepath.Join(b.opts.profileDir, file)}
}

// dialects lists the read stores a scenario runs against: Postgres when
// DATABASE_URL names one, and SQLite, the embedded default, always.
func (b *bench) dialects() []readstore.Dialect {
	if b.pg == nil {
		return []readstore.Dialect{readstore.SQLite}
	}
	return []readstore.Dialect{readstore.Postgres, readstore.SQLite}
}

// eachDialect makes a scenario of run that runs it against each read
// store, and reports a run that could not go on as the scenario's
// failure on that store.
func eachDialect(scenario string, run func(*bench, context.Context, readstore.Dialect) error) func(*bench, context.Context) error {
	return func(b *bench, ctx context.Context) error {
		for _, d := range b.dialects() {
			if !b.opts.selects(label(scenario, d)) {
				continue
			}
			if err := run(b, ctx, d); err != nil {
				b.rep.fail(label(scenario, d), err)
			}
		}
		return nil
	}
}

// selects reports whether -run selects the scenario, or the scenario on
// one read store, named name. A scenario on one store is named as its
// figures are (see label), so that "replay" selects it on both stores and
// "replay/pg" on Postgres alone.
func (o options) selects(name string) bool {
	return o.only == nil || o.only.MatchString(name)
}

// selectsScenario reports whether -run selects the scenario named name
// on any read store.
func (o options) selectsScenario(name string) bool {
	return o.selects(name) || o.selects(label(name, readstore.Postgres)) || o.selects(label(name, readstore.SQLite))
}

// label names a scenario's figures for one read store.
func label(scenario string, d readstore.Dialect) string {
	if d == readstore.Postgres {
		return scenario + "/pg"
	}
	return scenario + "/" + string(d)
}
