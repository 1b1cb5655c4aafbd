package readmodel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
)

// stream builds an event stream in Go, with sequences 1..n.
type stream struct {
	evs []events.Recorded
}

// add appends an event of name on aggregate subject. payload is marshalled
// unless it is already a json.RawMessage.
func (s *stream) add(tb testing.TB, name, subject, team string, at time.Time, payload any) {
	tb.Helper()
	data, ok := payload.(json.RawMessage)
	if !ok {
		var err error
		if data, err = json.Marshal(payload); err != nil {
			tb.Fatalf("marshal %s payload: %v", name, err)
		}
	}
	s.addRaw(events.TypeOf(name), events.Subject(name, subject), subject, team, at, data)
}

func (s *stream) addRaw(typ, streamSubject, subject, team string, at time.Time, data json.RawMessage) {
	seq := uint64(len(s.evs) + 1)
	s.evs = append(s.evs, events.Recorded{
		Envelope: events.Envelope{
			SpecVersion: events.SpecVersion, ID: fmt.Sprintf("ev-%06d", seq), Source: events.Source,
			Type: typ, Subject: subject, Time: at, DataContentType: "application/json",
			Team: team, Actor: "actor@" + team, CorrelationID: "corr", Data: data,
		},
		StreamSubject: streamSubject,
		Sequence:      seq,
	})
}

type regOpt func(*events.ExperimentRegisteredV1)

func buildsOn(ids ...string) regOpt {
	return func(p *events.ExperimentRegisteredV1) { p.BuildsOn = ids }
}

func tags(ts ...string) regOpt {
	return func(p *events.ExperimentRegisteredV1) { p.Tags = ts }
}

func teamOnly(p *events.ExperimentRegisteredV1) { p.Visibility = experiments.VisibilityTeam }

func (s *stream) register(tb testing.TB, id, team, title string, at time.Time, opts ...regOpt) {
	tb.Helper()
	p := events.ExperimentRegisteredV1{
		Team: team, Title: title, Kind: "ab_test", Hypothesis: "if we " + title + " then more",
		SuccessMetric: "conversion", SuccessCriteria: "+2%", Owner: "owner@" + team,
		Tags: []string{}, BuildsOn: []string{}, Visibility: experiments.VisibilityOrg,
	}
	for _, o := range opts {
		o(&p)
	}
	s.add(tb, events.ExperimentRegistered, id, team, at, p)
}

func (s *stream) start(tb testing.TB, id, team string, at time.Time) {
	tb.Helper()
	s.add(tb, events.ExperimentStarted, id, team, at, events.ExperimentStartedV1{StartedAt: at})
}

func (s *stream) conclude(tb testing.TB, id, team string, at time.Time, outcome string) {
	tb.Helper()
	s.add(tb, events.ExperimentConcluded, id, team, at, events.ExperimentConcludedV1{
		Outcome: outcome, Decision: "iterate", Summary: "summary of " + id, ConcludedAt: at})
}

// run registers, starts and concludes an experiment in one go.
func (s *stream) run(tb testing.TB, id, team, title string, registered, started, concluded time.Time, outcome string, opts ...regOpt) {
	tb.Helper()
	s.register(tb, id, team, title, registered, opts...)
	s.start(tb, id, team, started)
	s.conclude(tb, id, team, concluded, outcome)
}

func (s *stream) learn(tb testing.TB, id, team, learningID, text string, at time.Time, skills ...string) {
	tb.Helper()
	s.add(tb, events.ExperimentLearningRecorded, id, team, at, events.ExperimentLearningRecordedV1{
		LearningID: learningID, Text: text, Skills: skills})
}

func (s *stream) innovate(tb testing.TB, id, team, title string, at, launched time.Time) {
	tb.Helper()
	s.add(tb, events.InnovationRecorded, id, team, at, events.InnovationRecordedV1{
		Team: team, Title: title, Description: "about " + title, LaunchedAt: launched})
}

func (s *stream) link(tb testing.TB, innovation, experiment, team string, at time.Time) {
	tb.Helper()
	s.add(tb, events.InnovationLinked, innovation, team, at, events.InnovationLinkedV1{
		ExperimentID: experiment, Note: "informed by " + experiment})
}

func (s *stream) unlink(tb testing.TB, innovation, experiment, team string, at time.Time) {
	tb.Helper()
	s.add(tb, events.InnovationUnlinked, innovation, team, at, events.InnovationUnlinkedV1{ExperimentID: experiment})
}

// day is midnight UTC of a date, plus hours.
func day(y int, m time.Month, d int, hours ...int) time.Time {
	h := 0
	if len(hours) > 0 {
		h = hours[0]
	}
	return time.Date(y, m, d, h, 0, 0, 0, time.UTC)
}

// mustApply applies evs in batches of the given sizes (the rest in one
// batch when sizes run out), each batch in its own transaction with its
// skips and checkpoint, as the projector does. It returns every skip.
func mustApply(tb testing.TB, db *readstore.DB, evs []events.Recorded, sizes ...int) []readstore.Skipped {
	tb.Helper()
	ctx := context.Background()
	p, err := readmodel.NewProjection(db.Dialect)
	if err != nil {
		tb.Fatal(err)
	}
	var skipped []readstore.Skipped
	for i := 0; len(evs) > 0; i++ {
		n := len(evs)
		if i < len(sizes) && sizes[i] < n {
			n = sizes[i]
		}
		chunk := evs[:n]
		evs = evs[n:]
		tx, err := db.Begin(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		s, err := p.ApplyBatch(ctx, tx, chunk)
		if err != nil {
			tx.Rollback()
			tb.Fatalf("ApplyBatch(%d..%d): %v", chunk[0].Sequence, chunk[n-1].Sequence, err)
		}
		if err := readstore.RecordSkipped(ctx, tx, s); err != nil {
			tb.Fatal(err)
		}
		if err := readstore.SetPosition(ctx, tx, chunk[n-1].Sequence); err != nil {
			tb.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			tb.Fatal(err)
		}
		skipped = append(skipped, s...)
	}
	return skipped
}

// readModelTables lists every table the projection and the projector
// write, with an order that makes a dump canonical.
var readModelTables = []struct{ name, order string }{
	{"experiments", "id"},
	{"experiment_tags", "tag, experiment_id"},
	{"experiment_edges", "experiment_id, builds_on_id"},
	{"learnings", "id"},
	{"learning_skills", "skill, learning_id"},
	{"innovations", "id"},
	{"innovation_links", "innovation_id, experiment_id"},
	{"stories", "id"},
	{"story_experiments", "story_id, experiment_id"},
	{"story_helped", "story_id, actor"},
	{"story_versions", "story_id, position"},
	{"experiment_terms", "experiment_id, term"},
	{"learning_terms", "learning_id, term"},
	{"history", "position"},
	{"figure_cells", "month, team, visibility"},
	{"failure_feeds", "failure_id, innovation_id, requires"},
	{"failure_figures", "failure_id"},
	{"figure_backfill", "id"},
	{"skill_cells", "month, team, visibility, skill_key"},
	{"team_skill_first", "team, skill_key, visibility"},
	{"story_figures", "item, requires"},
	{"requires_cells", "month, team, visibility, requires"},
	{"read_model_backfill", "item"},
	{"projector_skipped", "position"},
	{"projector_checkpoint", "id"},
}

// dump renders every row of every read-model table as text.
func dump(tb testing.TB, db *readstore.DB) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	for _, t := range readModelTables {
		rows, err := db.QueryxContext(context.Background(), "SELECT * FROM "+t.name+" ORDER BY "+t.order)
		if err != nil {
			tb.Fatalf("dump %s: %v", t.name, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				tb.Fatalf("dump %s: %v", t.name, err)
			}
			var sb strings.Builder
			for i, v := range vals {
				switch x := v.(type) {
				case []byte:
					v = string(x)
				case time.Time:
					v = x.UTC().Format(time.RFC3339Nano)
				}
				fmt.Fprintf(&sb, "%s=%v ", cols[i], v)
			}
			out[t.name] = append(out[t.name], sb.String())
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
		rows.Close()
	}
	return out
}

// generate returns a plausible stream of n events: experiments registered
// (some building on earlier ones, some team-only), started, concluded,
// revised, abandoned, taught learnings; innovations recorded, linked and
// unlinked. With junk, about one event in forty cannot be applied.
func generate(tb testing.TB, n int, seed uint64, junk bool) []events.Recorded {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	teams := []string{"growth", "core", "payments", "search", "mobile"}
	tagSet := []string{"pricing", "onboarding", "retention", "ux", "ml"}
	skillSet := []string{"Interviewing", "SQL", "statistics", "copywriting", "pricing"}
	type exp struct {
		id, team, status string
	}
	var exps []*exp
	var innovations []string
	team := map[string]string{}
	links := map[[2]string]bool{}
	var linked [][2]string
	s := &stream{}
	at := day(2025, 1, 1)
	pick := func(status ...string) *exp {
		for range 8 {
			if len(exps) == 0 {
				return nil
			}
			x := exps[r.IntN(len(exps))]
			for _, st := range status {
				if x.status == st {
					return x
				}
			}
		}
		return nil
	}
	for len(s.evs) < n {
		at = at.Add(time.Duration(r.IntN(180)+1) * time.Minute)
		if junk && r.IntN(40) == 0 {
			switch r.IntN(4) {
			case 0:
				s.addRaw(events.TypeOf(events.ExperimentStarted), "tracker.experiment.x.started", "x-unknown", "growth", at,
					json.RawMessage(`{"started_at": 42}`))
			case 1:
				s.addRaw("failforward.experiment.exploded.v1", "tracker.experiment.x.exploded", "x-unknown", "growth", at,
					json.RawMessage(`{}`))
			case 2:
				s.conclude(tb, "x-never-registered", "growth", at, experiments.OutcomeFailed)
			case 3:
				if x := pick("planned", "running", "concluded", "abandoned"); x != nil {
					s.register(tb, x.id, x.team, "again", at)
				}
			}
			continue
		}
		switch k := r.IntN(100); {
		case k < 22 || len(exps) < 5:
			x := &exp{id: fmt.Sprintf("x%06d", len(exps)), team: teams[r.IntN(len(teams))], status: "planned"}
			var opts []regOpt
			if len(exps) > 0 && r.IntN(3) == 0 {
				ups := []string{exps[r.IntN(len(exps))].id}
				if r.IntN(3) == 0 {
					ups = append(ups, exps[r.IntN(len(exps))].id)
				}
				opts = append(opts, buildsOn(ups...))
			}
			opts = append(opts, tags(tagSet[r.IntN(len(tagSet))], tagSet[r.IntN(len(tagSet))]))
			if r.IntN(10) == 0 {
				opts = append(opts, teamOnly)
			}
			s.register(tb, x.id, x.team, fmt.Sprintf("experiment %d on %s", len(exps), x.team), at, opts...)
			exps = append(exps, x)
			team[x.id] = x.team
		case k < 27:
			if x := pick("planned"); x != nil {
				title, ts := "revised "+x.id, []string{tagSet[r.IntN(len(tagSet))]}
				s.add(tb, events.ExperimentRevised, x.id, x.team, at, events.ExperimentRevisedV1{Title: &title, Tags: &ts})
			}
		case k < 42:
			if x := pick("planned"); x != nil {
				s.start(tb, x.id, x.team, at)
				x.status = "running"
			}
		case k < 57:
			if x := pick("running"); x != nil {
				s.conclude(tb, x.id, x.team, at, experiments.Outcomes[r.IntN(len(experiments.Outcomes))])
				x.status = "concluded"
			}
		case k < 59:
			if x := pick("concluded"); x != nil {
				s.add(tb, events.ExperimentOutcomeRevised, x.id, x.team, at, events.ExperimentOutcomeRevisedV1{
					Outcome: experiments.OutcomeInconclusive, Reason: "data was off"})
			}
		case k < 62:
			if x := pick("planned", "running"); x != nil {
				s.add(tb, events.ExperimentAbandoned, x.id, x.team, at, events.ExperimentAbandonedV1{Reason: "no time", AbandonedAt: at})
				x.status = "abandoned"
			}
		case k < 82:
			if x := pick("planned", "running", "concluded", "abandoned"); x != nil {
				s.learn(tb, x.id, x.team, fmt.Sprintf("l%07d", len(s.evs)), "we learned about "+x.id, at,
					skillSet[r.IntN(len(skillSet))], skillSet[r.IntN(len(skillSet))])
			}
		case k < 87:
			id := fmt.Sprintf("i%06d", len(innovations))
			tm := teams[r.IntN(len(teams))]
			s.innovate(tb, id, tm, "innovation "+id, at, at.Add(time.Duration(r.IntN(30))*24*time.Hour))
			innovations = append(innovations, id)
			team[id] = tm
		case k < 97:
			x := pick("concluded", "abandoned")
			if x != nil && len(innovations) > 0 {
				i := innovations[r.IntN(len(innovations))]
				s.link(tb, i, x.id, team[i], at)
				if !links[[2]string{i, x.id}] {
					links[[2]string{i, x.id}] = true
					linked = append(linked, [2]string{i, x.id})
				}
			}
		default:
			if len(linked) > 0 {
				l := linked[r.IntN(len(linked))]
				s.unlink(tb, l[0], l[1], team[l[0]], at)
			}
		}
	}
	return s.evs[:n]
}

// wholeBacklog reads every page of the backlog f selects for v, pageSize
// failures at a time, and fails the test when a page is larger, when an
// item comes twice or when the pages do not follow one another.
func wholeBacklog(tb testing.TB, q *readmodel.Queries, v readmodel.Viewer, f readmodel.BacklogFilter, pageSize int) ([]readmodel.BacklogItem, error) {
	tb.Helper()
	f.Limit = pageSize
	all := []readmodel.BacklogItem{}
	seen := map[string]bool{}
	for {
		page, err := q.FailureBacklog(context.Background(), v, f)
		if err != nil {
			return nil, err
		}
		if len(page.Items) > pageSize || (page.NextCursor != "" && len(page.Items) != pageSize) {
			tb.Fatalf("backlog page of %d items for a page size of %d, next %q", len(page.Items), pageSize, page.NextCursor)
		}
		for _, it := range page.Items {
			if seen[it.ID] {
				tb.Fatalf("backlog lists %s twice across its pages", it.ID)
			}
			seen[it.ID] = true
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		f.Cursor = page.NextCursor
	}
}

// sameTables fails the test for each read-model table whose rows in got
// differ from want's, a dump of the store described by than.
func sameTables(tb testing.TB, got, want map[string][]string, than string) {
	tb.Helper()
	for _, t := range readModelTables {
		if !slices.Equal(got[t.name], want[t.name]) {
			tb.Errorf("%s: %d rows differ from %s (%d rows)", t.name, len(got[t.name]), than, len(want[t.name]))
		}
	}
}
