package readmodel

import (
	"bytes"
	"database/sql"
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

// appendValues appends the row's values in experimentColumns order, as
// the drivers take them without conversion.
func (r *experimentRow) appendValues(args []any) []any {
	return append(args, dbText(r.ID), dbText(r.Team), dbText(r.Title), dbText(r.Kind), dbText(r.Hypothesis),
		dbText(r.SuccessMetric), dbText(r.SuccessCriteria), dbText(r.Owner),
		r.Tags.text(), r.BuildsOn.text(), dbText(r.Visibility), dbText(r.Status), dbText(r.Outcome),
		dbText(r.Decision), dbText(r.Summary), dbText(r.Observed), r.FailureReasons.text(),
		dbText(r.AbandonReason), r.CostPersonDays, r.CostSpend, int64(r.OutcomeRevisions), int64(r.LearningCount),
		r.RegisteredAt, timeOrNil(r.StartedAt), timeOrNil(r.ConcludedAt), timeOrNil(r.AbandonedAt),
		r.RegisteredMonth, r.StartedMonth, r.ConcludedMonth, r.AbandonedMonth, int64(r.Version), int64(r.Position))
}

// experimentScan scans rows of experimentColumns without reflection.
type experimentScan struct {
	row                                 experimentRow
	outcomeRevisions, learnings         int64
	version, position                   int64
	startedAt, concludedAt, abandonedAt sql.NullTime
	dest                                []any
}

func newExperimentScan() *experimentScan {
	s := &experimentScan{}
	r := &s.row
	s.dest = []any{&r.ID, &r.Team, &r.Title, &r.Kind, &r.Hypothesis, &r.SuccessMetric, &r.SuccessCriteria, &r.Owner,
		&r.Tags, &r.BuildsOn, &r.Visibility, &r.Status, &r.Outcome, &r.Decision, &r.Summary, &r.Observed, &r.FailureReasons,
		&r.AbandonReason, &r.CostPersonDays, &r.CostSpend, &s.outcomeRevisions, &s.learnings,
		&r.RegisteredAt, &s.startedAt, &s.concludedAt, &s.abandonedAt,
		&r.RegisteredMonth, &r.StartedMonth, &r.ConcludedMonth, &r.AbandonedMonth, &s.version, &s.position}
	return s
}

// scan reads the current row of rows, normalized as normalize does.
func (s *experimentScan) scan(rows *sql.Rows) (experimentRow, error) {
	if err := rows.Scan(s.dest...); err != nil {
		return experimentRow{}, err
	}
	r := s.row
	r.OutcomeRevisions, r.LearningCount = int(s.outcomeRevisions), int(s.learnings)
	r.Version, r.Position = uint64(s.version), uint64(s.position)
	r.StartedAt, r.ConcludedAt, r.AbandonedAt = nullTimePtr(s.startedAt), nullTimePtr(s.concludedAt), nullTimePtr(s.abandonedAt)
	r.RegisteredAt = r.RegisteredAt.UTC()
	return r, nil
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
		FailureReasons: nonNil(r.FailureReasons), AbandonReason: r.AbandonReason,
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

// setState makes the row hold x, as the domain folded it, with the
// columns only the row has (months, cost) derived from it. The learning
// count is the row's own and stays.
func (r *experimentRow) setState(x *experiments.Experiment) {
	count := r.LearningCount
	*r = experimentRow{
		ID: x.ID, Team: x.Team, Title: x.Title, Kind: x.Kind, Hypothesis: x.Hypothesis,
		SuccessMetric: x.SuccessMetric, SuccessCriteria: x.SuccessCriteria, Owner: x.Owner,
		Tags: x.Tags, BuildsOn: x.BuildsOn, Visibility: x.Visibility, Status: x.Status,
		Outcome: x.Outcome, Decision: x.Decision, Summary: x.Summary, Observed: x.Observed,
		FailureReasons: x.FailureReasons, AbandonReason: x.AbandonReason,
		OutcomeRevisions: x.OutcomeRevisions, LearningCount: count,
		RegisteredAt: dbTime(x.RegisteredAt), RegisteredMonth: monthOf(x.RegisteredAt),
		Version: x.Version, Position: x.Position,
	}
	if x.Cost != nil {
		r.CostPersonDays, r.CostSpend = x.Cost.PersonDays, x.Cost.Spend
	}
	r.StartedAt, r.StartedMonth = dbTimeAndMonth(x.StartedAt)
	r.ConcludedAt, r.ConcludedMonth = dbTimeAndMonth(x.ConcludedAt)
	r.AbandonedAt, r.AbandonedMonth = dbTimeAndMonth(x.AbandonedAt)
}

// dbTimeAndMonth is an optional date as stored, and its month bucket.
func dbTimeAndMonth(t *time.Time) (*time.Time, string) {
	if t == nil {
		return nil, ""
	}
	return dbTimePtr(*t), monthOf(*t)
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

func (r *learningRow) appendValues(args []any) []any {
	return append(args, dbText(r.ID), dbText(r.ExperimentID), dbText(r.Team), dbText(r.Text), r.Skills.text(),
		r.RecordedAt, r.RecordedMonth, int64(r.Position))
}

// newLearningRow is the row of l, recorded by an experiment of team at
// stream position.
func newLearningRow(l experiments.Learning, team string, position uint64) *learningRow {
	return &learningRow{ID: l.ID, ExperimentID: l.ExperimentID, Team: team, Text: l.Text, Skills: l.Skills,
		RecordedAt: dbTime(l.RecordedAt), RecordedMonth: monthOf(l.RecordedAt), Position: position}
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

func (r *innovationRow) appendValues(args []any) []any {
	return append(args, dbText(r.ID), dbText(r.Team), dbText(r.Title), dbText(r.Description),
		r.LaunchedAt, r.RecordedAt, int64(r.Version), int64(r.Position))
}

// scanInnovation reads a row of innovationColumns without reflection.
func scanInnovation(rows *sql.Rows) (innovationRow, error) {
	var r innovationRow
	var version, position int64
	err := rows.Scan(&r.ID, &r.Team, &r.Title, &r.Description, &r.LaunchedAt, &r.RecordedAt, &version, &position)
	r.Version, r.Position = uint64(version), uint64(position)
	return r, err
}

func (r *innovationRow) innovation() experiments.Innovation {
	return experiments.Innovation{ID: r.ID, Team: r.Team, Title: r.Title, Description: r.Description,
		LaunchedAt: r.LaunchedAt.UTC(), RecordedAt: r.RecordedAt.UTC(), InformedBy: []experiments.Link{},
		Version: r.Version, Position: r.Position}
}

// setState makes the row hold n, as the domain folded it; its links have
// rows of their own.
func (r *innovationRow) setState(n *experiments.Innovation) {
	*r = innovationRow{ID: n.ID, Team: n.Team, Title: n.Title, Description: n.Description,
		LaunchedAt: dbTime(n.LaunchedAt), RecordedAt: dbTime(n.RecordedAt), Version: n.Version, Position: n.Position}
}

const linkColumns = `innovation_id, experiment_id, note, active, linked_at`

type linkRow struct {
	InnovationID string    `db:"innovation_id"`
	ExperimentID string    `db:"experiment_id"`
	Note         string    `db:"note"`
	Active       bool      `db:"active"`
	LinkedAt     time.Time `db:"linked_at"`
}

func (r *linkRow) appendValues(args []any) []any {
	return append(args, dbText(r.InnovationID), dbText(r.ExperimentID), dbText(r.Note), r.Active, r.LinkedAt)
}

// newLinkRow is the row of an active link of innovation.
func newLinkRow(innovation string, l experiments.Link) *linkRow {
	return &linkRow{InnovationID: innovation, ExperimentID: l.ExperimentID, Note: l.Note, Active: true,
		LinkedAt: dbTime(l.LinkedAt)}
}

// link renders the row as a link of the domain's state.
func (r *linkRow) link() experiments.Link {
	return experiments.Link{ExperimentID: r.ExperimentID, Note: r.Note, LinkedAt: r.LinkedAt.UTC()}
}

// same reports whether r and o hold the same values (times as instants:
// a driver may read them back in another zone).
func (r *linkRow) same(o *linkRow) bool {
	return r.InnovationID == o.InnovationID && r.ExperimentID == o.ExperimentID && r.Note == o.Note &&
		r.Active == o.Active && r.LinkedAt.Equal(o.LinkedAt)
}

// scanLink reads a row of linkColumns without reflection.
func scanLink(rows *sql.Rows) (linkRow, error) {
	var r linkRow
	err := rows.Scan(&r.InnovationID, &r.ExperimentID, &r.Note, &r.Active, &r.LinkedAt)
	return r, err
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

func (r *historyRow) appendValues(args []any) []any {
	return append(args, int64(r.Position), r.Aggregate, dbText(r.AggregateID), dbText(r.EventID), dbText(r.EventType),
		dbText(r.Team), dbText(r.Actor), r.OccurredAt, dbText(r.Data))
}

// stringList is a list of strings kept in one TEXT column as a JSON array:
// the lists are read whole with their row, and the rows that need to be
// searched by element (tags, skills, edges) have tables of their own.
type stringList []string

// Value encodes the list as a JSON array, [] when empty.
func (l stringList) Value() (driver.Value, error) {
	return l.text(), nil
}

// text is the list as a JSON array, [] when empty, byte for byte what
// encoding/json writes. Most lists hold only characters that JSON writes
// as they are; those are joined by hand, which is several times faster.
func (l stringList) text() string {
	if len(l) == 0 {
		return "[]"
	}
	n := 1
	for _, s := range l {
		if !plainJSON(s) {
			b, _ := json.Marshal([]string(l)) // a []string always marshals
			return string(b)
		}
		n += len(s) + 3
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, s := range l {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, s...)
		b = append(b, '"')
	}
	b = append(b, ']')
	return string(b)
}

// plainJSON reports whether encoding/json writes s between quotes
// unchanged: printable ASCII other than the quote, the backslash and the
// characters it escapes for HTML.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
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
	if out, ok := parsePlainList(b); ok {
		*l = out
		return nil
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan string list: %w", err)
	}
	*l = out
	return nil
}

// parsePlainList decodes a JSON array of strings as text writes it when
// every element is plainJSON, and reports false for anything else, which
// encoding/json then decodes.
func parsePlainList(b []byte) ([]string, bool) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, false
	}
	b = b[1 : len(b)-1]
	out := make([]string, 0, bytes.Count(b, []byte{','})+1)
	if len(b) == 0 {
		return out, true
	}
	for {
		if len(b) < 2 || b[0] != '"' {
			return nil, false
		}
		end := 1
		for end < len(b) && b[end] != '"' {
			if c := b[end]; c < 0x20 || c >= 0x7f || c == '\\' {
				return nil, false
			}
			end++
		}
		if end == len(b) {
			return nil, false
		}
		out = append(out, string(b[1:end]))
		b = b[end+1:]
		if len(b) == 0 {
			return out, true
		}
		if b[0] != ',' {
			return nil, false
		}
		b = b[1:]
	}
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

// timeOrNil is t as a driver value: the time, or nil for none.
func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

func nullTimePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
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
