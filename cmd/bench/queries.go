package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/failforward/failforward/internal/readstore"
)

// Target and load of the query scenario.
const (
	queryMaxP99 = 50 * time.Millisecond
	// queryClients is how many clients query at once: a few people on
	// dashboards, and one request per core in flight besides.
	queryClients = 4
	// queryWarmup requests of each kind per client go unmeasured, so
	// that the figures are of a server that has been serving, not of cold
	// caches.
	queryWarmup = 2
)

// query is one kind of read: how to draw a request of it, through the API
// and as the bare SQL at its core, which is its baseline.
type query struct {
	name string
	draw func(rng *rand.Rand) (path, sql string, args []any)
}

// queriesFor lists the reads the scenario measures over the history h.
func queriesFor(h history) []query {
	year := "from=" + h.from.Format(time.DateOnly) + "&to=" + h.to.Format(time.DateOnly)
	return []query{
		{"list: team + status", func(rng *rand.Rand) (string, string, []any) {
			team := pick(rng, teams)
			return "/v1/experiments?status=concluded&limit=50&team=" + team,
				"SELECT * FROM experiments WHERE team = ? AND status = ? ORDER BY registered_at DESC, id DESC LIMIT 51",
				[]any{team, "concluded"}
		}},
		{"list: outcome + tag", func(rng *rand.Rand) (string, string, []any) {
			tag := pick(rng, tags)
			return "/v1/experiments?outcome=failed&limit=50&tag=" + tag,
				`SELECT e.* FROM experiments e WHERE e.outcome = ?
				AND EXISTS (SELECT 1 FROM experiment_tags t WHERE t.tag = ? AND t.experiment_id = e.id)
				ORDER BY e.registered_at DESC, e.id DESC LIMIT 51`,
				[]any{"failed", tag}
		}},
		{"list: text search", func(rng *rand.Rand) (string, string, []any) {
			w := pick(rng, words)
			p := "%" + w + "%"
			return "/v1/experiments?limit=50&q=" + w,
				`SELECT * FROM experiments WHERE LOWER(title) LIKE ? OR LOWER(hypothesis) LIKE ? OR LOWER(summary) LIKE ?
				ORDER BY registered_at DESC, id DESC LIMIT 51`,
				[]any{p, p, p}
		}},
		{"detail of an experiment", func(rng *rand.Rand) (string, string, []any) {
			id := pick(rng, h.experiments)
			return "/v1/experiments/" + id, "SELECT * FROM experiments WHERE id = ?", []any{id}
		}},
		{fmt.Sprintf("lineage, %d upstream", lineageSize), func(*rand.Rand) (string, string, []any) {
			return "/v1/innovations/" + h.lineageInnovation + "/lineage",
				`WITH RECURSIVE walk (id, depth) AS (
					SELECT experiment_id, 1 FROM innovation_links WHERE innovation_id = ? AND active
					UNION
					SELECT x.builds_on_id, w.depth + 1 FROM walk w JOIN experiment_edges x ON x.experiment_id = w.id)
				SELECT e.* FROM experiments e JOIN (SELECT id, MIN(depth) AS depth FROM walk GROUP BY id) w ON w.id = e.id`,
				[]any{h.lineageInnovation}
		}},
		{"outcomes dashboard, one year", func(*rand.Rand) (string, string, []any) {
			return "/v1/dashboard/outcomes?bucket=month&" + year,
				`SELECT concluded_month, team, outcome, count(*) FROM experiments
				WHERE concluded_at >= ? AND concluded_at < ? GROUP BY concluded_month, team, outcome`,
				[]any{h.from, h.to}
		}},
	}
}

// queriesScenario measures each read through the HTTP API over the read
// store the replay built from the generated history, beside its bare SQL
// run on the same database.
func (b *bench) queriesScenario(ctx context.Context) error {
	data, err := b.dataset(ctx)
	if err != nil {
		return err
	}
	for _, d := range b.dialects() {
		if err := b.queries(ctx, data, d); err != nil {
			b.rep.fail(label("queries", d), err)
		}
	}
	return nil
}

func (b *bench) queries(ctx context.Context, data *dataset, d readstore.Dialect) error {
	srv, err := b.serveProjected(ctx, data, d, false, queryClients)
	if err != nil {
		return err
	}
	defer srv.close()
	db, a, client := srv.db, srv.api, srv.client
	n, budget := b.opts.scale.requests, b.opts.scale.queryBudget
	for _, q := range queriesFor(data.history) {
		viaAPI, err := measureReads(ctx, n, budget, q, func(ctx context.Context, path, _ string, _ []any) error {
			return get(ctx, client, a.base+path)
		})
		if err != nil {
			if cause := a.errs.first(); cause != "" {
				err = fmt.Errorf("%w; the API logged: %s", err, cause)
			}
			return fmt.Errorf("%s: %w", q.name, err)
		}
		bare, err := measureReads(ctx, n, budget, q, func(ctx context.Context, _, query string, args []any) error {
			return drain(db.QueryContext(ctx, db.Rebind(query), args...))
		})
		if err != nil {
			return fmt.Errorf("%s, bare SQL: %w", q.name, err)
		}
		b.rep.add(figure{
			scenario: label("queries", d), name: "p99 " + q.name, value: viaAPI.p99(), unit: seconds,
			base: &baseline{"bare SQL", bare.p99()}, targets: []target{below(queryMaxP99.Seconds(), seconds)},
			note: fmt.Sprintf("p50 %s, %d requests, %d clients", seconds.format(viaAPI.p50()), len(viaAPI), queryClients),
		})
	}
	return nil
}

// measureReads sends n requests of q from queryClients clients, after
// the warm-up, and returns their latencies; it stops early when budget
// has passed, so that a slow query does not hold the run for long. Any
// failure fails the run.
func measureReads(ctx context.Context, n int, budget time.Duration, q query, do func(ctx context.Context, path, query string, args []any) error) (latencies, error) {
	parts := make([]latencies, queryClients)
	errs := make([]error, queryClients)
	deadline := time.Now().Add(budget)
	var wg sync.WaitGroup
	for i := range queryClients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for j := range queryWarmup + n/queryClients {
				if j > queryWarmup && time.Now().After(deadline) {
					return
				}
				path, query, args := q.draw(rng)
				t0 := time.Now()
				if err := do(ctx, path, query, args); err != nil {
					errs[i] = err
					return
				}
				if j >= queryWarmup {
					parts[i] = append(parts[i], time.Since(t0))
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return merge(parts...), nil
}

// get reads u to the end and fails unless the answer is 200.
func get(ctx context.Context, client *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// drain reads every row of a query's answer, as a caller would.
func drain(rows *sql.Rows, err error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
	}
	return rows.Err()
}

// checkLineage makes sure the lineage query asks what it claims to: an
// innovation with lineageSize experiments upstream.
func checkLineage(ctx context.Context, client *http.Client, base, id string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/innovations/"+id+"/lineage", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var l struct {
		Upstream []json.RawMessage `json:"upstream"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		return fmt.Errorf("lineage of %s: %s: %w", id, resp.Status, err)
	}
	if len(l.Upstream) != lineageSize {
		return fmt.Errorf("lineage of %s has %d experiments upstream, want %d", id, len(l.Upstream), lineageSize)
	}
	return nil
}

// served is a read store the replay built, served through the API.
type served struct {
	url    string
	db     *readstore.DB
	api    *api
	client *http.Client
}

func (s *served) close() {
	s.api.close()
	s.db.Close()
}

// serveProjected opens the read store the replay built for dialect d and
// serves it through the API (with its own live projector when
// withProjector is set), checking first that the lineage read works.
func (b *bench) serveProjected(ctx context.Context, data *dataset, d readstore.Dialect, withProjector bool, conns int) (*served, error) {
	u, err := b.projectedStore(ctx, data, d)
	if err != nil {
		return nil, err
	}
	db, err := openStore(ctx, u)
	if err != nil {
		return nil, err
	}
	a, err := startAPI(ctx, data.broker.url, db, withProjector)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &served{url: u, db: db, api: a, client: newClient(conns)}
	if err := checkLineage(ctx, s.client, a.base, data.lineageInnovation); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}
