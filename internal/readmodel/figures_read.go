package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// monthSpan is a range of whole months, from inclusive and to exclusive,
// as YYYY-MM; an end that is "" is open.
type monthSpan struct{ from, to string }

func (s monthSpan) empty() bool {
	return s.from != "" && s.to != "" && s.from >= s.to
}

// conds adds to conds and args the conditions that keep the rows of
// alias whose month column is in s.
func (s monthSpan) conds(alias string, conds []string, args []any) ([]string, []any) {
	if s.from != "" {
		conds, args = append(conds, alias+".month >= ?"), append(args, s.from)
	}
	if s.to != "" {
		conds, args = append(conds, alias+".month < ?"), append(args, s.to)
	}
	return conds, args
}

// splitRange cuts f's range into the whole months that the cells answer
// and the parts of months that a bound cuts (at most two), which are
// counted from their rows, each with f's team.
func splitRange(f OutcomeFilter) (monthSpan, []OutcomeFilter) {
	var span monthSpan
	var edges []OutcomeFilter
	if !f.From.IsZero() {
		start := monthStart(f.From)
		next := start.AddDate(0, 1, 0)
		if start.Equal(f.From) {
			span.from = monthOf(start)
		} else {
			end := next
			if !f.To.IsZero() && f.To.Before(next) {
				end = f.To
			}
			edges = append(edges, OutcomeFilter{Team: f.Team, From: f.From, To: end})
			span.from = monthOf(next)
		}
	}
	if !f.To.IsZero() {
		start := monthStart(f.To)
		span.to = monthOf(start)
		// A range within one month is the one edge above already.
		if !start.Equal(f.To) && !f.From.After(start) {
			edges = append(edges, OutcomeFilter{Team: f.Team, From: start, To: f.To})
		}
	}
	return span, edges
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// tallyCells adds up the cells v may see of the months in span, and the
// parts of them for the teams v sees (requires_cells).
func (q *Queries) tallyCells(ctx context.Context, v Viewer, team string, span monthSpan, t *tally) error {
	// In key order, the cells are read through their key's index: a
	// table whose months are rewritten batch after batch may spread its
	// few rows over many pages between vacuums, and a sequential scan
	// would read every page.
	cond, args := cellConds(v, team, span)
	order := " ORDER BY c.month, c.team, c.visibility"
	query := "SELECT " + cellReadColumns + " FROM figure_cells c WHERE " + cond + order
	if err := q.addCells(ctx, query, args, newCellReader(false), nil, t); err != nil {
		return fmt.Errorf("load figure cells: %w", err)
	}
	query = "SELECT " + requiresReadColumns + " FROM requires_cells c WHERE " + cond + order + ", c.requires"
	if err := q.addCells(ctx, query, args, newCellReader(true), v.seesAll, t); err != nil {
		return fmt.Errorf("load requires cells: %w", err)
	}
	return nil
}

// addCells adds to t the cells query returns that r reads, those whose
// requires keep holds, unless keep is nil.
func (q *Queries) addCells(ctx context.Context, query string, args []any, r *cellReader, keep func(string) bool, t *tally) error {
	rows, err := q.db.QueryContext(ctx, q.db.Rebind(query), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := r.scan(rows); err != nil {
			return err
		}
		if keep != nil && !keep(r.key.requires) {
			continue
		}
		for _, cl := range t.at(r.key.month, r.key.team) {
			cl.add(r)
		}
	}
	return rows.Err()
}

// cellReader reads the rows of figure_cells or requires_cells as a read
// adds them up: their histograms and skills parsed once per row, into
// buffers that the next row reuses.
type cellReader struct {
	key            cellKey
	counts         [numCounts]int64
	cycle, latency []dayCount
	skills         []skillCount
	// countText is the counts, and text cycle_days, latency_days and
	// skills, as selected.
	countText string
	text      [3]string
	requires  bool
	dest      []any
}

// cellReadColumns and requiresReadColumns are what a read selects of
// figure_cells and requires_cells (aliased c): the key, the counts as one
// text of numbers separated by spaces, which both stores concatenate for
// less than the drivers take to hand over each column, and the
// histograms and skills.
var (
	cellReadColumns = "c.month, c.team, c.visibility, " + joinedCounts(columnList(cellColumns)[3:3+numCounts]) +
		", c.cycle_days, c.latency_days, c.skills"
	requiresReadColumns = "c.month, c.team, c.visibility, c.requires, " +
		joinedCounts([]string{"failures_fed", "failures_with_stories", "stories_by_leads"}) + ", c.latency_days"
)

func joinedCounts(columns []string) string {
	return "c." + strings.Join(columns, " || ' ' || c.")
}

// newCellReader returns a reader of figure_cells rows (cellReadColumns),
// or of requires_cells rows (requiresReadColumns) when requires is set.
func newCellReader(requires bool) *cellReader {
	r := &cellReader{requires: requires}
	r.dest = []any{&r.key.month, &r.key.team, &r.key.visibility}
	if requires {
		r.dest = append(r.dest, &r.key.requires, &r.countText, &r.text[1])
		return r
	}
	r.dest = append(r.dest, &r.countText, &r.text[0], &r.text[1], &r.text[2])
	return r
}

func (r *cellReader) scan(rows *sql.Rows) error {
	if err := rows.Scan(r.dest...); err != nil {
		return err
	}
	err := r.parseCounts()
	if err == nil {
		r.cycle, err = parseDays(r.text[0], r.cycle)
	}
	if err == nil {
		r.latency, err = parseDays(r.text[1], r.latency)
	}
	if err == nil {
		r.skills = r.skills[:0]
		if r.text[2] != "" {
			r.skills, err = parseSkills(r.text[2], r.skills)
		}
	}
	if err != nil {
		return fmt.Errorf("cell %s %s %s %s: %w", r.key.month, r.key.team, r.key.visibility, r.key.requires, err)
	}
	return nil
}

// parseCounts reads countText into the counts it names.
func (r *cellReader) parseCounts() error {
	into := r.counts[:]
	if r.requires {
		into = []int64{0, 0, 0}
	}
	s, i := r.countText, 0
	for k := range into {
		if k > 0 {
			if i >= len(s) || s[i] != ' ' {
				return fmt.Errorf("bad counts %q", s)
			}
			i++
		}
		n, j, ok := parseInt(s, i)
		if !ok {
			return fmt.Errorf("bad counts %q", s)
		}
		into[k], i = n, j
	}
	if i != len(s) {
		return fmt.Errorf("bad counts %q", s)
	}
	if r.requires {
		r.counts[cFailuresFed], r.counts[cFailuresWithStories], r.counts[cStoriesByLeads] = into[0], into[1], into[2]
	}
	return nil
}

// cellConds returns the condition on the rows aliased c of figure_cells
// or failure_figures that v may see, of team (unless "") and of the
// months in span.
func cellConds(v Viewer, team string, span monthSpan) (string, []any) {
	vis, args := v.visible("c")
	conds := []string{vis}
	if team != "" {
		conds, args = append(conds, "c.team = ?"), append(args, team)
	}
	conds, args = span.conds("c", conds, args)
	return strings.Join(conds, " AND "), args
}

// add adds the figures of a stored cell to the report's cell.
func (c *cell) add(r *cellReader) {
	m := &c.m
	for i, p := range [numCounts]*int{
		cRegistered: &m.Registered, cStarted: &m.Started, cConcluded: &m.Concluded,
		cSucceeded: &m.Succeeded, cFailed: &m.Failed, cInconclusive: &m.Inconclusive,
		cAbandoned: &m.Abandoned, cOutcomeRevisions: &m.OutcomeRevisions,
		cLearnings: &m.LearningsRecorded, cFailuresFed: &m.FailuresFed,
		cLearnedAndDecided: &m.LearnedAndDecided, cFailuresWithLearnings: &m.FailuresWithLearnings,
		cFailuresWithStories: &m.FailuresWithStories, cStoriesByLeads: &m.StoriesByLeads,
	} {
		*p += int(r.counts[i])
	}
	c.cycleDays.addRun(r.cycle)
	c.latency.addRun(r.latency)
	for _, x := range r.skills {
		c.skills.add(x.skill, int(x.n))
	}
}

// tallyEdgeFailures counts the failures concluded in f's range, which
// lies within one month, that fed an innovation as v sees it.
func (q *Queries) tallyEdgeFailures(ctx context.Context, v Viewer, f OutcomeFilter, t *tally) error {
	vis, args := v.visible("c")
	conds := []string{vis, "c.month = ?", "c.concluded_at >= ?", "c.concluded_at < ?"}
	args = append(args, monthOf(f.From), dbTime(f.From), dbTime(f.To))
	if f.Team != "" {
		conds, args = append(conds, "c.team = ?"), append(args, f.Team)
	}
	return q.tallyFedFailures(ctx, v, strings.Join(conds, " AND "), args, t)
}

// tallyFedFailures counts the failure_figures rows (aliased c) that match
// cond as fed failures, with their latency, as v sees them: from the
// launch every viewer sees, or an earlier one through confidential
// experiments of teams v sees, in failure_feeds.
func (q *Queries) tallyFedFailures(ctx context.Context, v Viewer, cond string, args []any, t *tally) error {
	var failures []struct {
		ID          string       `db:"failure_id"`
		Team        string       `db:"team"`
		Month       string       `db:"month"`
		ConcludedAt time.Time    `db:"concluded_at"`
		Open        sql.NullTime `db:"open_launched_at"`
		Depends     bool         `db:"depends"`
	}
	if err := q.db.SelectContext(ctx, &failures, q.db.Rebind("SELECT c.failure_id, c.team, c.month, c.concluded_at,"+
		" c.open_launched_at, c.depends FROM failure_figures c WHERE "+cond), args...); err != nil {
		return fmt.Errorf("load fed failures: %w", err)
	}
	var depends []string
	for _, x := range failures {
		if x.Depends {
			depends = append(depends, x.ID)
		}
	}
	first, err := q.firstLaunches(ctx, v, depends)
	if err != nil {
		return err
	}
	for _, x := range failures {
		launch := nullTimePtr(x.Open)
		if l, ok := first[x.ID]; ok && (launch == nil || l.Before(*launch)) {
			launch = &l
		}
		if launch == nil {
			continue
		}
		d := wholeDays(x.ConcludedAt, *launch)
		for _, cl := range t.at(x.Month, x.Team) {
			cl.m.FailuresFed++
			cl.latency.add(d, 1)
		}
	}
	return nil
}

// firstLaunches returns, for the failures ids, the first launch among
// their feeds through confidential experiments that v sees.
func (q *Queries) firstLaunches(ctx context.Context, v Viewer, ids []string) (map[string]time.Time, error) {
	rows, err := selectIn[struct {
		ID         string    `db:"failure_id"`
		Requires   string    `db:"requires"`
		LaunchedAt time.Time `db:"launched_at"`
	}](ctx, q.db, "SELECT failure_id, requires, launched_at FROM failure_feeds WHERE requires <> '' AND failure_id IN (%s)", ids)
	if err != nil {
		return nil, fmt.Errorf("load failure feeds: %w", err)
	}
	out := map[string]time.Time{}
	for _, r := range rows {
		if !v.seesAll(r.Requires) {
			continue
		}
		if l, ok := out[r.ID]; !ok || r.LaunchedAt.Before(l) {
			out[r.ID] = r.LaunchedAt.UTC()
		}
	}
	return out, nil
}

// seesAll reports whether v sees the confidential experiments of every
// team in requires, a set as failure_feeds keeps it.
func (v Viewer) seesAll(requires string) bool {
	if v.All || requires == "" {
		return true
	}
	for t := range strings.SplitSeq(requires, ",") {
		found := false
		for _, mine := range v.Teams {
			found = found || mine == t
		}
		if !found {
			return false
		}
	}
	return true
}
