package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/history"
	"github.com/failforward/failforward/internal/readstore"
)

// growthMaxRatio is the growth scenario's target: how much slower a read
// may answer at the largest size than at the smallest.
const growthMaxRatio = 1.5

// growthQueries are the reads whose cost must not grow with the history:
// the dashboards and searches people open every day, at a history whose
// last event is at end. The dashboards are asked for the last two whole
// months before end's, as a lead looks at the recent weeks: the history
// grows forward in time (at 10,000 experiments it spans about two months,
// at 100,000 two years), so a span from its start would show ten times
// the periods at the largest size, and time the answer's growth rather
// than the history's. Each size's window holds as many periods, of a
// history as dense, beside a history ten times as long. The window only
// changes the paths: the names are the same for any end.
func growthQueries(end time.Time) []query {
	teams, words := history.Teams(), history.Words()
	month := time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, time.UTC)
	span := "&from=" + month.AddDate(0, -2, 0).Format("2006-01") + "&to=" + month.Format("2006-01")
	path := func(name string, draw func(rng *rand.Rand) string) query {
		return query{name, func(rng *rand.Rand) (string, string, []any) { return draw(rng), "", nil }}
	}
	return []query{
		path("outcomes dashboard, all teams", func(*rand.Rand) string {
			return "/v1/dashboard/outcomes?bucket=month" + span
		}),
		path("outcomes dashboard, one team", func(rng *rand.Rand) string {
			return "/v1/dashboard/outcomes?bucket=month" + span + "&team=" + pick(rng, teams)
		}),
		path("learning backlog", func(*rand.Rand) string { return "/v1/dashboard/failures?unlinked=true" }),
		path("text search of experiments", func(rng *rand.Rand) string {
			return "/v1/experiments?limit=50&q=" + pick(rng, words)
		}),
		path("learnings search", func(rng *rand.Rand) string { return "/v1/learnings?q=" + pick(rng, words) }),
		path("overview page", func(*rand.Rand) string { return "/" }),
	}
}

// growth grows one history through the sizes of the scale, the
// api and a projector process serving it, and times each of
// growthQueries at each size: the figure is the p99 at the largest size
// against the p99 at the smallest.
func (b *bench) growth(ctx context.Context, d readstore.Dialect) error {
	sc := b.opts.scale
	largest := sc.growth[len(sc.growth)-1]
	data, err := newDataset(ctx, b.dir, largest*sc.events/sc.experiments, largest, 0)
	if err != nil {
		return err
	}
	defer data.broker.close()
	u, err := b.freshStore(ctx, d)
	if err != nil {
		return err
	}
	defer b.dropStore(u)
	// The projector starts first: it migrates the read store, which the
	// api needs to be ready.
	srv, err := b.serve(ctx, data.broker.url, u, true)
	if err != nil {
		return err
	}
	defer srv.close()
	var (
		measured [][]growthReads // by size, then by query
		sizes    []int           // the experiments at each size
		prev     []growthReads
	)
	for _, size := range sc.growth {
		prev, err = b.growTo(ctx, data, srv, size, prev)
		if err != nil {
			return fmt.Errorf("at %s experiments: %w", thousands(float64(size)), err)
		}
		measured, sizes = append(measured, prev), append(sizes, data.gen.Registered())
	}
	b.growthFigures(label("growth", d), sizes, measured)
	return nil
}

// growthReads is what one read measured at one size: its latencies, or
// that it did not answer within the client's timeout.
type growthReads struct {
	lat      latencies
	timedOut bool
}

func (r growthReads) String() string {
	if r.timedOut {
		return "no answer within " + clientTimeout.String()
	}
	return fmt.Sprintf("p50 %s p99 %s (%d requests)", seconds.format(r.lat.p50()), seconds.format(r.lat.p99()), len(r.lat))
}

// growTo publishes the history up to size experiments, waits for the
// projector to apply it, and times each of growthQueries through the api.
// A read that timed out at the size before is not asked again.
func (b *bench) growTo(ctx context.Context, data *dataset, srv *served, size int, prev []growthReads) ([]growthReads, error) {
	start := time.Now()
	if err := data.grow(ctx, size); err != nil {
		return nil, err
	}
	if err := srv.projector.reach(ctx, b.client, data.last, nil); err != nil {
		return nil, err
	}
	name := label("growth", srv.db.Dialect)
	b.rep.notef(name, "%s experiments, %s events: published and projected in %.1fs",
		thousands(float64(data.gen.Registered())), thousands(float64(data.last)), time.Since(start).Seconds())
	if srv.db.Dialect == readstore.Postgres {
		if err := b.autovacuum(ctx, srv.db, name); err != nil {
			return nil, err
		}
	}
	var out []growthReads
	_, end := data.gen.Span()
	for j, q := range growthQueries(end) {
		if prev != nil && prev[j].timedOut {
			out = append(out, prev[j])
			continue
		}
		lat, err := measureReads(ctx, b.opts.scale.requests, b.opts.scale.queryBudget, q, func(ctx context.Context, path, _ string, _ []any) error {
			return get(ctx, b.client, srv.api.base+path)
		})
		var timeout net.Error
		if errors.As(err, &timeout) && timeout.Timeout() {
			out = append(out, growthReads{timedOut: true})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.name, srv.api.withCause(err))
		}
		out = append(out, growthReads{lat: lat})
	}
	return out, nil
}

// growthFigures reports, for each query, its p99 at the largest size
// against its p99 at the smallest, with every size's p50 and p99 beside.
// A size is the experiments registered then: a few hundred more than the
// scale's, the ones still open. A read that timed out counts as taking
// the client's timeout, and misses.
func (b *bench) growthFigures(name string, sizes []int, measured [][]growthReads) {
	first, last := measured[0], measured[len(measured)-1]
	for j, q := range growthQueries(time.Time{}) {
		var at []string
		for i, size := range sizes {
			at = append(at, thousands(float64(size))+": "+measured[i][j].String())
		}
		f := figure{
			scenario: name, name: "p99 " + q.name, value: last[j].lat.p99(), unit: seconds,
			targets: []target{atMostTimesBaseline(growthMaxRatio)}, note: strings.Join(at, "; "),
		}
		if last[j].timedOut {
			f.value = clientTimeout.Seconds()
		}
		if !first[j].timedOut {
			f.base = &baseline{"at " + thousands(float64(sizes[0])), first[j].lat.p99()}
		}
		b.rep.add(f)
	}
}

// atMostTimesBaseline is met when value/baseline is at most max.
func atMostTimesBaseline(max float64) target {
	return target{desc: fmt.Sprintf("≤ %.2f× baseline", max), met: func(f figure) bool {
		r, ok := f.ratio()
		return ok && r <= max
	}}
}
