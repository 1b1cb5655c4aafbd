package readmodel

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// The rows below mirror the read-model tables column for column. The
// projection folds events onto them and the queries scan into them, so one
// struct per table keeps the two sides from drifting apart.

// experimentColumns lists the experiments table in the order of
// experimentRow.values.
const experimentColumns = `id, team, title, kind, hypothesis, success_metric, success_criteria, owner,
	tags, builds_on, visibility, status, outcome, decision, summary, observed, failure_reasons,
	abandon_reason, cost_person_days, cost_spend, outcome_revisions, learning_count,
	registered_at, started_at, concluded_at, abandoned_at,
	registered_month, started_month, concluded_month, abandoned_month, version, position`

type experimentRow struct {
	ID               string     `db:"id"`
	Team             string     `db:"team"`
	Title            string     `db:"title"`
	Kind             string     `db:"kind"`
	Hypothesis       string     `db:"hypothesis"`
	SuccessMetric    string     `db:"success_metric"`
	SuccessCriteria  string     `db:"success_criteria"`
	Owner            string     `db:"owner"`
	Tags             stringList `db:"tags"`
	BuildsOn         stringList `db:"builds_on"`
	Visibility       string     `db:"visibility"`
	Status           string     `db:"status"`
	Outcome          string     `db:"outcome"`
	Decision         string     `db:"decision"`
	Summary          string     `db:"summary"`
	Observed         string     `db:"observed"`
	FailureReasons   stringList `db:"failure_reasons"`
	AbandonReason    string     `db:"abandon_reason"`
	CostPersonDays   float64    `db:"cost_person_days"`
	CostSpend        float64    `db:"cost_spend"`
	OutcomeRevisions int        `db:"outcome_revisions"`
	LearningCount    int        `db:"learning_count"`
	RegisteredAt     time.Time  `db:"registered_at"`
	StartedAt        *time.Time `db:"started_at"`
	ConcludedAt      *time.Time `db:"concluded_at"`
	AbandonedAt      *time.Time `db:"abandoned_at"`
	RegisteredMonth  string     `db:"registered_month"`
	StartedMonth     string     `db:"started_month"`
	ConcludedMonth   string     `db:"concluded_month"`
	AbandonedMonth   string     `db:"abandoned_month"`
	Version          uint64     `db:"version"`
	Position         uint64     `db:"position"`
}

func (r *experimentRow) values() []any {
	return []any{r.ID, r.Team, r.Title, r.Kind, r.Hypothesis, r.SuccessMetric, r.SuccessCriteria, r.Owner,
		r.Tags, r.BuildsOn, r.Visibility, r.Status, r.Outcome, r.Decision, r.Summary, r.Observed, r.FailureReasons,
		r.AbandonReason, r.CostPersonDays, r.CostSpend, r.OutcomeRevisions, r.LearningCount,
		r.RegisteredAt, r.StartedAt, r.ConcludedAt, r.AbandonedAt,
		r.RegisteredMonth, r.StartedMonth, r.ConcludedMonth, r.AbandonedMonth, r.Version, r.Position}
}

// normalize puts times read back from a driver into UTC: lib/pq returns
// them in the session's zone, and the folds compare and format them.
func (r *experimentRow) normalize() {
	r.RegisteredAt = r.RegisteredAt.UTC()
	r.StartedAt = utcPtr(r.StartedAt)
	r.ConcludedAt = utcPtr(r.ConcludedAt)
	r.AbandonedAt = utcPtr(r.AbandonedAt)
}

// experiment renders the row in its API shape, without learnings.
func (r *experimentRow) experiment() experiments.Experiment {
	x := experiments.Experiment{
		ID: r.ID, Team: r.Team, Title: r.Title, Kind: r.Kind, Hypothesis: r.Hypothesis,
		SuccessMetric: r.SuccessMetric, SuccessCriteria: r.SuccessCriteria, Owner: r.Owner,
		Tags: nonNil(r.Tags), BuildsOn: nonNil(r.BuildsOn), Visibility: r.Visibility, Status: r.Status,
		Outcome: r.Outcome, Decision: r.Decision, Summary: r.Summary, Observed: r.Observed,
		FailureReasons: r.FailureReasons, AbandonReason: r.AbandonReason,
		OutcomeRevisions: r.OutcomeRevisions, Learnings: []experiments.Learning{},
		RegisteredAt: r.RegisteredAt.UTC(), StartedAt: utcPtr(r.StartedAt),
		ConcludedAt: utcPtr(r.ConcludedAt), AbandonedAt: utcPtr(r.AbandonedAt),
		Version: r.Version, Position: r.Position,
	}
	// The table cannot tell "no cost given" from "a cost of zero"; the
	// former is by far the likelier, so zero reads as absent.
	if r.CostPersonDays != 0 || r.CostSpend != 0 {
		x.Cost = &events.Cost{PersonDays: r.CostPersonDays, Spend: r.CostSpend}
	}
	return x
}

const learningColumns = `id, experiment_id, team, text, skills, recorded_at, recorded_month, position`

type learningRow struct {
	ID            string     `db:"id"`
	ExperimentID  string     `db:"experiment_id"`
	Team          string     `db:"team"`
	Text          string     `db:"text"`
	Skills        stringList `db:"skills"`
	RecordedAt    time.Time  `db:"recorded_at"`
	RecordedMonth string     `db:"recorded_month"`
	Position      uint64     `db:"position"`
}

func (r *learningRow) values() []any {
	return []any{r.ID, r.ExperimentID, r.Team, r.Text, r.Skills, r.RecordedAt, r.RecordedMonth, r.Position}
}

func (r *learningRow) learning() experiments.Learning {
	return experiments.Learning{ID: r.ID, ExperimentID: r.ExperimentID, Text: r.Text,
		Skills: nonNil(r.Skills), RecordedAt: r.RecordedAt.UTC()}
}

const innovationColumns = `id, team, title, description, launched_at, recorded_at, version, position`

type innovationRow struct {
	ID          string    `db:"id"`
	Team        string    `db:"team"`
	Title       string    `db:"title"`
	Description string    `db:"description"`
	LaunchedAt  time.Time `db:"launched_at"`
	RecordedAt  time.Time `db:"recorded_at"`
	Version     uint64    `db:"version"`
	Position    uint64    `db:"position"`
}

func (r *innovationRow) values() []any {
	return []any{r.ID, r.Team, r.Title, r.Description, r.LaunchedAt, r.RecordedAt, r.Version, r.Position}
}

func (r *innovationRow) innovation() experiments.Innovation {
	return experiments.Innovation{ID: r.ID, Team: r.Team, Title: r.Title, Description: r.Description,
		LaunchedAt: r.LaunchedAt.UTC(), RecordedAt: r.RecordedAt.UTC(), InformedBy: []experiments.Link{},
		Version: r.Version, Position: r.Position}
}

const linkColumns = `innovation_id, experiment_id, note, active, linked_at`

type linkRow struct {
	InnovationID string    `db:"innovation_id"`
	ExperimentID string    `db:"experiment_id"`
	Note         string    `db:"note"`
	Active       bool      `db:"active"`
	LinkedAt     time.Time `db:"linked_at"`
}

func (r *linkRow) values() []any {
	return []any{r.InnovationID, r.ExperimentID, r.Note, r.Active, r.LinkedAt}
}

const historyColumns = `position, aggregate, aggregate_id, event_id, event_type, team, actor, occurred_at, data`

type historyRow struct {
	Position    uint64    `db:"position"`
	Aggregate   string    `db:"aggregate"`
	AggregateID string    `db:"aggregate_id"`
	EventID     string    `db:"event_id"`
	EventType   string    `db:"event_type"`
	Team        string    `db:"team"`
	Actor       string    `db:"actor"`
	OccurredAt  time.Time `db:"occurred_at"`
	Data        string    `db:"data"`
}

func (r *historyRow) values() []any {
	return []any{r.Position, r.Aggregate, r.AggregateID, r.EventID, r.EventType, r.Team, r.Actor, r.OccurredAt, r.Data}
}

// stringList is a list of strings kept in one TEXT column as a JSON array:
// the lists are read whole with their row, and the rows that need to be
// searched by element (tags, skills, edges) have tables of their own.
type stringList []string

// Value encodes the list as a JSON array, [] when empty.
func (l stringList) Value() (driver.Value, error) {
	if l == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	if err != nil {
		return nil, fmt.Errorf("encode string list: %w", err)
	}
	return string(b), nil
}

// Scan decodes a JSON array written by Value.
func (l *stringList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan string list: unexpected %T", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan string list: %w", err)
	}
	*l = out
	return nil
}

// dbTime normalises t for storage and for binding: UTC, because SQLite
// keeps times as text and compares them as text, which orders instants
// only when every value has the same zone; and whole microseconds,
// Postgres's precision, so that both read stores hold the same value and
// a time read back equals the one bound in a later query.
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

func dbTimePtr(t time.Time) *time.Time {
	t = dbTime(t)
	return &t
}

// monthOf is the YYYY-MM (UTC) bucket stored beside each date.
func monthOf(t time.Time) string {
	return t.UTC().Format("2006-01")
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// dbText makes s storable on both read stores: Postgres rejects NUL bytes
// and invalid UTF-8 in TEXT where SQLite takes them, and one bad title
// must not halt the projector on one store and pass on the other.
func dbText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
