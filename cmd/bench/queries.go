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

	"github.com/failforward/failforward/internal/history"
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

// The year the outcomes dashboard is asked for: the second of the
// generated history's two.
var (
	yearFrom = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	yearTo   = yearFrom.AddDate(1, 0, 0)
)

func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// textSearchSQL is the core of a ranked text search on each store: the
// first page of one word's rows in the term index, best first, with
// their experiments, and no visibility or filters. The index's ids
// compare byte by byte on Postgres (COLLATE "C"); the join compares them
// as the experiments' own.
func textSearchSQL(d readstore.Dialect) string {
	id := "t.experiment_id"
	if d == readstore.Postgres {
		id += ` COLLATE "default"`
	}
	return `SELECT e.* FROM experiment_terms t JOIN experiments e ON e.id = ` + id + `
		WHERE t.term = ? ORDER BY t.weight DESC, t.sort_key DESC, t.experiment_id DESC LIMIT 51`
}

// queriesFor lists the reads the scenario measures over the history of
// data, with their bare SQL for a read store of dialect d.
func queriesFor(data *dataset, d readstore.Dialect) []query {
	year := "from=" + yearFrom.Format(time.DateOnly) + "&to=" + yearTo.Format(time.DateOnly)
	teams, tags, words := history.Teams(), history.Tags(), history.Words()
	ids, lineage := data.gen.Experiments(), data.gen.LineageInnovation()
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
			return "/v1/experiments?limit=50&q=" + w, textSearchSQL(d), []any{w}
		}},
		{"detail of an experiment", func(rng *rand.Rand) (string, string, []any) {
			id := pick(rng, ids)
			return "/v1/experiments/" + id, "SELECT * FROM experiments WHERE id = ?", []any{id}
		}},
		{fmt.Sprintf("lineage, %d upstream", lineageSize), func(*rand.Rand) (string, string, []any) {
			return "/v1/innovations/" + lineage + "/lineage",
				`WITH RECURSIVE walk (id, depth) AS (
					SELECT experiment_id, 1 FROM innovation_links WHERE innovation_id = ? AND active
					UNION
					SELECT x.builds_on_id, w.depth + 1 FROM walk w JOIN experiment_edges x ON x.experiment_id = w.id)
				SELECT e.* FROM experiments e JOIN (SELECT id, MIN(depth) AS depth FROM walk GROUP BY id) w ON w.id = e.id`,
				[]any{lineage}
		}},
		{"outcomes dashboard, one year", func(*rand.Rand) (string, string, []any) {
			return "/v1/dashboard/outcomes?bucket=month&" + year,
				`SELECT concluded_month, team, outcome, count(*) FROM experiments
				WHERE concluded_at >= ? AND concluded_at < ? GROUP BY concluded_month, team, outcome`,
				[]any{yearFrom, yearTo}
		}},
	}
}

// queries measures each read through the api over the read
// store the replay built from the generated history, beside its bare SQL
// run on the same database.
func (b *bench) queries(ctx context.Context, d readstore.Dialect) error {
	data, err := b.dataset(ctx)
	if err != nil {
		return err
	}
	srv, err := b.serveProjected(ctx, data, d, false)
	if err != nil {
		return err
	}
	defer srv.close()
	db, a := srv.db, srv.api
	n, budget := b.opts.scale.requests, b.opts.scale.queryBudget
	for _, q := range queriesFor(data, d) {
		viaAPI, err := measureReads(ctx, n, budget, q, func(ctx context.Context, path, _ string, _ []any) error {
			return get(ctx, b.client, a.base+path)
		})
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, a.withCause(err))
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
	_, err := fetch(ctx, client, u)
	return err
}

// fetch returns the body of u's answer, and fails unless it is 200.
// header, when given, is set on the request: name, then value.
func fetch(ctx context.Context, client *http.Client, u string, header ...string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
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
	body, err := fetch(ctx, client, base+"/v1/innovations/"+id+"/lineage")
	if err != nil {
		return err
	}
	var l struct {
		Upstream []json.RawMessage `json:"upstream"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return fmt.Errorf("lineage of %s: %w", id, err)
	}
	if len(l.Upstream) != lineageSize {
		return fmt.Errorf("lineage of %s has %d experiments upstream, want %d", id, len(l.Upstream), lineageSize)
	}
	return nil
}

// served is a read store the replay built, served through the api, and
// a live projector beside it when one was asked for.
type served struct {
	url       string
	db        *readstore.DB
	api       *api
	projector *projectorProc
}

// close stops the programs and reports a projector that failed.
func (s *served) close() error {
	if s.api != nil {
		s.api.stop()
	}
	s.db.Close()
	if s.projector != nil {
		return s.projector.stop()
	}
	return nil
}

// serveProjected serves the read store the replay built for dialect d,
// checking first that the lineage read works.
func (b *bench) serveProjected(ctx context.Context, data *dataset, d readstore.Dialect, withProjector bool) (*served, error) {
	u, err := b.projectedStore(ctx, data, d)
	if err != nil {
		return nil, err
	}
	s, err := b.serve(ctx, data.broker.url, u, withProjector)
	if err != nil {
		return nil, err
	}
	if err := checkLineage(ctx, b.client, s.api.base, data.gen.LineageInnovation()); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// serve runs the api over the stream at natsURL and the read store at u,
// both external (so the api runs no projector of its own), and a
// projector process beside it when withProjector is set, as they run in
// production.
func (b *bench) serve(ctx context.Context, natsURL, u string, withProjector bool) (*served, error) {
	db, err := readstore.Open(ctx, u)
	if err != nil {
		return nil, err
	}
	s := &served{url: u, db: db}
	if withProjector {
		s.projector, err = b.startProjector(ctx, natsURL, u)
	}
	if err == nil {
		s.api, err = b.startAPI(ctx, "NATS_URL="+natsURL, "DATABASE_URL="+u)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}
