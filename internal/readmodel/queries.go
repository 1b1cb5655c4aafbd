package readmodel

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readstore"
)

// ErrBadCursor reports a paging cursor that this package did not issue.
var ErrBadCursor = errors.New("bad cursor")

// ErrBadFilter reports a query filter with an impossible value, such as an
// unknown bucket or a range that ends before it starts.
var ErrBadFilter = errors.New("bad filter")

// Queries answers the API's reads from the read models.
type Queries struct {
	db *readstore.DB
}

// NewQueries returns queries over db.
func NewQueries(db *readstore.DB) *Queries {
	return &Queries{db: db}
}

// DefaultLimit and MaxLimit bound the page size of the list queries: a
// limit of 0 means DefaultLimit, and a larger one than MaxLimit is cut to
// it rather than refused.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

// ExperimentFilter narrows ListExperiments. Empty fields do not filter.
type ExperimentFilter struct {
	Team    string
	Status  string
	Outcome string
	Tag     string
	// Q is a text search over the title, hypothesis, summary and
	// learnings (see search.go): with any words in it, the page holds
	// the experiments that have them all, best match first.
	Q string
	// Limit is the page size: DefaultLimit when 0, at most MaxLimit.
	Limit int
	// Cursor is a previous page's NextCursor.
	Cursor string
}

// ExperimentPage is one page of experiments, newest registered first.
// List items carry no learnings (an empty list); GetExperiment has them.
type ExperimentPage struct {
	Items      []experiments.Experiment `json:"items"`
	NextCursor string                   `json:"next_cursor,omitempty"`
}

// pageKey is the position of the last item of a page in the list's order.
type pageKey struct {
	RegisteredAt time.Time `json:"r"`
	ID           string    `json:"i"`
}

func encodeCursor(k pageKey) string {
	b, _ := json.Marshal(k) // a struct of a time and a string always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (pageKey, error) {
	var k pageKey
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &k)
	}
	if err == nil && (k.ID == "" || k.RegisteredAt.IsZero()) {
		err = errors.New("incomplete key")
	}
	if err != nil {
		return pageKey{}, fmt.Errorf("%w: %v", ErrBadCursor, err)
	}
	return k, nil
}

// ListExperiments returns a page of the experiments v may see that match
// f, newest registered first, paged by keyset on (registered_at, id); a
// text search ranks them instead (see searchExperiments).
func (q *Queries) ListExperiments(ctx context.Context, v Viewer, f ExperimentFilter) (ExperimentPage, error) {
	vis, args := v.visible("e")
	where := []string{vis}
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.Team != "" {
		add("e.team = ?", f.Team)
	}
	if f.Status != "" {
		add("e.status = ?", f.Status)
	}
	if f.Outcome != "" {
		add("e.outcome = ?", f.Outcome)
	}
	if f.Tag != "" {
		add("EXISTS (SELECT 1 FROM experiment_tags t WHERE t.tag = ? AND t.experiment_id = e.id)", f.Tag)
	}
	if tq := allTerms(f.Q); len(tq.terms) > 0 {
		return q.searchExperiments(ctx, v, f, tq, where, args)
	}
	if f.Cursor != "" {
		k, err := decodeCursor(f.Cursor)
		if err != nil {
			return ExperimentPage{}, fmt.Errorf("list experiments: %w", err)
		}
		at := dbTime(k.RegisteredAt)
		add("(e.registered_at < ? OR (e.registered_at = ? AND e.id < ?))", at, at, k.ID)
	}
	limit := clampLimit(f.Limit)
	query := "SELECT " + prefixed("e", experimentColumns) + " FROM experiments e WHERE " + strings.Join(where, " AND ") +
		" ORDER BY e.registered_at DESC, e.id DESC LIMIT ?"
	var rows []experimentRow
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), append(args, limit+1)...); err != nil {
		return ExperimentPage{}, fmt.Errorf("list experiments: %w", err)
	}
	page := ExperimentPage{Items: []experiments.Experiment{}}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page.NextCursor = encodeCursor(pageKey{RegisteredAt: last.RegisteredAt.UTC(), ID: last.ID})
	}
	items, err := q.renderExperiments(ctx, v, rows)
	if err != nil {
		return ExperimentPage{}, fmt.Errorf("list experiments: %w", err)
	}
	page.Items = items
	return page, nil
}

// renderExperiments turns rows into their API shape, with builds_on
// narrowed to what v may see: naming a hidden experiment's id would tell
// that it exists.
func (q *Queries) renderExperiments(ctx context.Context, v Viewer, rows []experimentRow) ([]experiments.Experiment, error) {
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.BuildsOn...)
	}
	seen, err := q.visibleIDs(ctx, v, ids)
	if err != nil {
		return nil, err
	}
	out := make([]experiments.Experiment, len(rows))
	for i := range rows {
		out[i] = rows[i].experiment()
		out[i].BuildsOn = slices.DeleteFunc(out[i].BuildsOn, func(id string) bool { return !seen[id] })
	}
	return out, nil
}

// visibleIDs returns which of ids name experiments that exist and that v
// may see.
func (q *Queries) visibleIDs(ctx context.Context, v Viewer, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	vis, args := v.visible("e")
	got, err := selectIn[string](ctx, q.db, "SELECT e.id FROM experiments e WHERE "+vis+" AND e.id IN (%s)", ids, args...)
	if err != nil {
		return nil, fmt.Errorf("check visibility: %w", err)
	}
	for _, id := range got {
		out[id] = true
	}
	return out, nil
}

// experimentRow loads one experiment that v may see.
func (q *Queries) experimentRow(ctx context.Context, v Viewer, id string) (experimentRow, error) {
	vis, args := v.visible("e")
	var r experimentRow
	err := q.db.GetContext(ctx, &r, q.db.Rebind("SELECT "+prefixed("e", experimentColumns)+
		" FROM experiments e WHERE e.id = ? AND "+vis), append([]any{id}, args...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return experimentRow{}, fmt.Errorf("experiment %s: %w", id, experiments.ErrNotFound)
	}
	if err != nil {
		return experimentRow{}, fmt.Errorf("load experiment %s: %w", id, err)
	}
	r.normalize()
	return r, nil
}

// GetExperiment returns one experiment with its learnings in the order
// they were recorded.
func (q *Queries) GetExperiment(ctx context.Context, v Viewer, id string) (experiments.Experiment, error) {
	r, err := q.experimentRow(ctx, v, id)
	if err != nil {
		return experiments.Experiment{}, err
	}
	xs, err := q.renderExperiments(ctx, v, []experimentRow{r})
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("get experiment %s: %w", id, err)
	}
	x := xs[0]
	byExp, err := q.learningsOf(ctx, []string{id})
	if err != nil {
		return experiments.Experiment{}, fmt.Errorf("get experiment %s: %w", id, err)
	}
	x.Learnings = nonNil(byExp[id])
	return x, nil
}

// learningsOf returns the learnings of the experiments ids, each list in
// recorded order. It does not check visibility: callers pass ids they
// have already checked.
func (q *Queries) learningsOf(ctx context.Context, ids []string) (map[string][]experiments.Learning, error) {
	rows, err := selectIn[learningRow](ctx, q.db, "SELECT "+learningColumns+" FROM learnings WHERE experiment_id IN (%s)", ids)
	if err != nil {
		return nil, fmt.Errorf("load learnings: %w", err)
	}
	slices.SortFunc(rows, func(a, b learningRow) int { return cmp.Compare(a.Position, b.Position) })
	out := map[string][]experiments.Learning{}
	for i := range rows {
		out[rows[i].ExperimentID] = append(out[rows[i].ExperimentID], rows[i].learning())
	}
	return out, nil
}

// HistoryEntry is one event of an aggregate's history.
type HistoryEntry struct {
	Position uint64    `json:"position"`
	EventID  string    `json:"event_id"`
	Type     string    `json:"type"`
	Actor    string    `json:"actor"`
	Time     time.Time `json:"time"`
	// Data is the event's payload as it was written.
	Data json.RawMessage `json:"data"`
}

// History returns every applied event of the experiment or innovation id,
// in stream order, with the raw data each was written with, except what
// would name an experiment v may not see: an innovation's link and unlink
// events of such experiments are left out, and such ids are dropped from
// a registration's builds_on.
func (q *Queries) History(ctx context.Context, v Viewer, id string) ([]HistoryEntry, error) {
	var aggregate string
	if _, err := q.experimentRow(ctx, v, id); err == nil {
		aggregate = events.AggregateExperiment
	} else if !errors.Is(err, experiments.ErrNotFound) {
		return nil, fmt.Errorf("history of %s: %w", id, err)
	} else if _, err := q.innovationRow(ctx, id); err == nil {
		aggregate = events.AggregateInnovation
	} else {
		return nil, fmt.Errorf("history of %s: %w", id, err)
	}
	var rows []historyRow
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind("SELECT "+historyColumns+
		" FROM history WHERE aggregate_id = ? AND aggregate = ? ORDER BY position"), id, aggregate); err != nil {
		return nil, fmt.Errorf("history of %s: %w", id, err)
	}
	var hidden map[string]bool
	var err error
	if aggregate == events.AggregateInnovation {
		hidden, err = q.hiddenLinkEvents(ctx, v, rows)
	} else {
		err = q.redactBuildsOn(ctx, v, rows)
	}
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", id, err)
	}
	out := make([]HistoryEntry, 0, len(rows))
	for _, r := range rows {
		if hidden[r.EventID] {
			continue
		}
		out = append(out, HistoryEntry{Position: r.Position, EventID: r.EventID, Type: r.EventType,
			Actor: r.Actor, Time: r.OccurredAt.UTC(), Data: json.RawMessage(r.Data)})
	}
	return out, nil
}

// redactBuildsOn drops from the data of registration events the builds_on
// ids of experiments v may not see, as GetExperiment does.
func (q *Queries) redactBuildsOn(ctx context.Context, v Viewer, rows []historyRow) error {
	registered := events.TypeOf(events.ExperimentRegistered)
	var ids []string
	for _, r := range rows {
		if r.EventType == registered {
			ids = append(ids, BuildsOn([]byte(r.Data))...)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	seen, err := q.visibleIDs(ctx, v, ids)
	if err != nil {
		return err
	}
	for i, r := range rows {
		if r.EventType != registered {
			continue
		}
		data, err := RedactBuildsOn([]byte(r.Data), func(id string) bool { return seen[id] })
		if err != nil {
			return fmt.Errorf("redact event %s: %w", r.EventID, err)
		}
		rows[i].Data = string(data)
	}
	return nil
}

// hiddenLinkEvents returns the ids of the link and unlink events among
// rows that name an experiment v may not see.
func (q *Queries) hiddenLinkEvents(ctx context.Context, v Viewer, rows []historyRow) (map[string]bool, error) {
	linked := map[string]string{}
	var ids []string
	for _, r := range rows {
		env := events.Envelope{Type: r.EventType, Data: json.RawMessage(r.Data)}
		_, p, err := events.Payload(&env)
		if err != nil {
			continue // applied events decode; a row that does not is not a link
		}
		switch p := p.(type) {
		case *events.InnovationLinkedV1:
			linked[r.EventID] = p.ExperimentID
		case *events.InnovationUnlinkedV1:
			linked[r.EventID] = p.ExperimentID
		default:
			continue
		}
		ids = append(ids, linked[r.EventID])
	}
	seen, err := q.visibleIDs(ctx, v, ids)
	if err != nil {
		return nil, err
	}
	hidden := map[string]bool{}
	for ev, exp := range linked {
		if !seen[exp] {
			hidden[ev] = true
		}
	}
	return hidden, nil
}

// LearningFilter narrows Learnings. Empty fields do not filter.
type LearningFilter struct {
	// Q is a text search over the learning's text and skills (see
	// search.go): with any words in it, the learnings that have them all,
	// best match first.
	Q string
	// Skill matches one of the learning's skills, compared by
	// experiments.SkillKey (ignoring case and spacing); an unknown skill
	// matches nothing, and a blank one does not filter.
	Skill string
	// Team is the team of the experiment that taught it.
	Team string
	// Outcome is the outcome of the experiment that taught it (failed,
	// succeeded or inconclusive), or "abandoned" for an abandoned one.
	Outcome string
	// Limit is DefaultLimit when 0, at most MaxLimit.
	Limit int
}

// LearningOutcomes are the values of LearningFilter.Outcome.
var LearningOutcomes = append(slices.Clone(experiments.Outcomes), experiments.StatusAbandoned)

// LearningResult is a learning with the experiment it came from.
type LearningResult struct {
	experiments.Learning
	ExperimentTitle string `json:"experiment_title"`
	Team            string `json:"team"`
	Outcome         string `json:"outcome"`
	// Status is the experiment's status, which tells an abandoned one.
	Status string `json:"status"`
}

type learningResultRow struct {
	learningRow
	ExperimentTitle string `db:"experiment_title"`
	Outcome         string `db:"outcome"`
	Status          string `db:"status"`
}

// searchLearnings returns the limit best learnings that match tq and
// that query (with args, then an IN list of learning ids) keeps, through
// the term index (search_topk.go).
func (q *Queries) searchLearnings(ctx context.Context, tq textQuery, query string, args []any, limit int) ([]learningResultRow, error) {
	load := func(ctx context.Context, ids []string) (map[string]learningResultRow, error) {
		found, err := selectIn[learningResultRow](ctx, q.db, query, ids, args...)
		out := make(map[string]learningResultRow, len(found))
		for _, r := range found {
			out[r.ID] = r
		}
		return out, err
	}
	hits, err := topK(ctx, q.db, learningTerms, tq, nil, limit, load)
	rows := make([]learningResultRow, len(hits))
	for i, h := range hits {
		rows[i] = h.row
	}
	return rows, err
}

// Learnings searches the learnings library: learnings of experiments v
// may see, newest first.
func (q *Queries) Learnings(ctx context.Context, v Viewer, f LearningFilter) ([]LearningResult, error) {
	vis, args := v.visible("e")
	where := []string{vis}
	if f.Team != "" {
		where = append(where, "e.team = ?")
		args = append(args, f.Team)
	}
	if key := experiments.SkillKey(f.Skill); key != "" {
		where = append(where, "EXISTS (SELECT 1 FROM learning_skills s WHERE s.learning_id = l.id AND s.skill_key = ?)")
		args = append(args, key)
	}
	if f.Outcome == experiments.StatusAbandoned {
		where = append(where, "e.status = ?")
		args = append(args, f.Outcome)
	} else if f.Outcome != "" {
		where = append(where, "e.outcome = ?")
		args = append(args, f.Outcome)
	}
	query := "SELECT " + prefixed("l", learningColumns) + ", e.title AS experiment_title, e.outcome, e.status" +
		" FROM learnings l JOIN experiments e ON e.id = l.experiment_id WHERE " + strings.Join(where, " AND ")
	var rows []learningResultRow
	var err error
	if tq := allTerms(f.Q); len(tq.terms) > 0 {
		rows, err = q.searchLearnings(ctx, tq, query+" AND l.id IN (%s)", args, clampLimit(f.Limit))
	} else {
		err = q.db.SelectContext(ctx, &rows, q.db.Rebind(query+" ORDER BY l.position DESC LIMIT ?"), append(args, clampLimit(f.Limit))...)
	}
	if err != nil {
		return nil, fmt.Errorf("search learnings: %w", err)
	}
	out := make([]LearningResult, len(rows))
	for i, r := range rows {
		out[i] = LearningResult{Learning: r.learning(), ExperimentTitle: r.ExperimentTitle, Team: r.Team, Outcome: r.Outcome, Status: r.Status}
	}
	return out, nil
}

// prefixed qualifies each column of a column list with alias.
func prefixed(alias, columns string) string {
	cols := columnList(columns)
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// maxQueryParams bounds the bind parameters of one query. SQLite allows
// 32,766 and Postgres 65,535; one limit under both keeps the SQL the same.
const maxQueryParams = 30000

// selectIn runs query once per chunk of ids, with the chunk's placeholders
// in place of its one %s, after args. The IN list must be the query's
// last placeholder; results of several chunks are concatenated, so a
// caller that needs an order across chunks sorts them itself.
func selectIn[T any](ctx context.Context, q *readstore.DB, query string, ids []string, args ...any) ([]T, error) {
	var out []T
	per := maxQueryParams - len(args)
	for start := 0; start < len(ids); start += per {
		chunk := ids[start:min(start+per, len(ids))]
		a := append(slices.Clip(args), anys(chunk)...)
		var part []T
		if err := q.SelectContext(ctx, &part, q.Rebind(fmt.Sprintf(query, placeholders(len(chunk)))), a...); err != nil {
			return nil, err
		}
		out = append(out, part...)
	}
	return out, nil
}

func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
