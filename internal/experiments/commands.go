package experiments

import (
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/failforward/failforward/internal/events"
)

// Field limits. They are generous for prose and tight for names, so that a
// pasted document or a runaway client is refused rather than stored.
const (
	maxTitle   = 200
	maxProse   = 10000
	maxName    = 100
	maxList    = 50
	maxTagLen  = 50
	maxLinks   = 200
	maxReasons = 20
)

var (
	teamPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	idPattern   = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)
)

// ValidID reports whether id has the shape of an aggregate id (a ULID).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// RegisterExperiment registers a planned experiment.
type RegisterExperiment struct {
	Team            string       `json:"team"`
	Title           string       `json:"title"`
	Kind            string       `json:"kind"`
	Hypothesis      string       `json:"hypothesis"`
	SuccessMetric   string       `json:"success_metric"`
	SuccessCriteria string       `json:"success_criteria"`
	Owner           string       `json:"owner"`
	Tags            []string     `json:"tags"`
	BuildsOn        []string     `json:"builds_on"`
	Visibility      string       `json:"visibility"`
	Cost            *events.Cost `json:"cost"`
}

// ReviseExperiment changes pre-registration fields while the experiment is
// planned; absent fields stay as they are.
type ReviseExperiment struct {
	Title           *string      `json:"title"`
	Kind            *string      `json:"kind"`
	Hypothesis      *string      `json:"hypothesis"`
	SuccessMetric   *string      `json:"success_metric"`
	SuccessCriteria *string      `json:"success_criteria"`
	Owner           *string      `json:"owner"`
	Tags            *[]string    `json:"tags"`
	Visibility      *string      `json:"visibility"`
	Cost            *events.Cost `json:"cost"`
}

// StartExperiment starts a planned experiment, now or at a past time.
type StartExperiment struct {
	StartedAt *time.Time `json:"started_at"`
}

// NewLearning is a learning recorded with a command.
type NewLearning struct {
	Text   string   `json:"text"`
	Skills []string `json:"skills"`
}

// ConcludeExperiment concludes a running experiment with its outcome and
// the decision taken, optionally recording learnings in the same write.
type ConcludeExperiment struct {
	Outcome        string        `json:"outcome"`
	Decision       string        `json:"decision"`
	Summary        string        `json:"summary"`
	Observed       string        `json:"observed"`
	FailureReasons []string      `json:"failure_reasons"`
	ConcludedAt    *time.Time    `json:"concluded_at"`
	Learnings      []NewLearning `json:"learnings"`
}

// ReviseOutcome changes the outcome of a concluded experiment, with the
// reason; the original call stays in history.
type ReviseOutcome struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
}

// AbandonExperiment abandons a planned or running experiment.
type AbandonExperiment struct {
	Reason      string     `json:"reason"`
	AbandonedAt *time.Time `json:"abandoned_at"`
}

// RecordLearning records a learning on an experiment at any status.
type RecordLearning = NewLearning

// LinkInput names an experiment that informed an innovation.
type LinkInput struct {
	ExperimentID string `json:"experiment_id"`
	Note         string `json:"note"`
}

// RecordInnovation records a shipped innovation and, optionally, the
// experiments that informed it.
type RecordInnovation struct {
	Team        string      `json:"team"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	LaunchedAt  *time.Time  `json:"launched_at"`
	InformedBy  []LinkInput `json:"informed_by"`
}

// LinkExperiment links an innovation to an experiment that informed it.
type LinkExperiment = LinkInput

// checker collects the first field error of a command.
type checker struct{ err error }

func (c *checker) fail(field, format string, args ...any) {
	if c.err == nil {
		c.err = Invalid(field, format, args...)
	}
}

func (c *checker) text(field, v string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(v) == "":
		c.fail(field, "is required")
	case utf8.RuneCountInString(v) > max:
		c.fail(field, "is longer than %d characters", max)
	case !utf8.ValidString(v):
		c.fail(field, "is not valid UTF-8")
	}
}

func (c *checker) team(field, v string) {
	if v == "" {
		c.fail(field, "is required")
	} else if !teamPattern.MatchString(v) {
		c.fail(field, "must be 1 to 64 letters, digits, '.', '_' or '-'")
	}
}

func (c *checker) oneOf(field, v string, allowed []string, required bool) {
	if v == "" {
		if required {
			c.fail(field, "is required (one of %s)", strings.Join(allowed, ", "))
		}
		return
	}
	if !slices.Contains(allowed, v) {
		c.fail(field, "must be one of %s", strings.Join(allowed, ", "))
	}
}

func (c *checker) list(field string, vs []string, maxItems, maxLen int) {
	if len(vs) > maxItems {
		c.fail(field, "has more than %d entries", maxItems)
		return
	}
	for _, v := range vs {
		c.text(field, v, true, maxLen)
	}
}

func (c *checker) ids(field string, ids []string, max int) {
	if len(ids) > max {
		c.fail(field, "has more than %d entries", max)
	}
	for _, id := range ids {
		if !ValidID(id) {
			c.fail(field, "%q is not an experiment id", id)
		}
	}
}

func (c *checker) cost(field string, cost *events.Cost) {
	if cost != nil && (cost.PersonDays < 0 || cost.Spend < 0) {
		c.fail(field, "must not be negative")
	}
}

func (c *checker) notFuture(field string, at *time.Time, now time.Time) {
	if at != nil && at.After(now.Add(time.Minute)) {
		c.fail(field, "must not be in the future")
	}
}

func (c *checker) learnings(field string, ls []NewLearning) {
	if len(ls) > maxList {
		c.fail(field, "has more than %d entries", maxList)
	}
	for _, l := range ls {
		c.text(field+".text", l.Text, true, maxProse)
		c.list(field+".skills", l.Skills, maxList, maxName)
	}
}

func (cmd *RegisterExperiment) validate() error {
	var c checker
	c.team("team", cmd.Team)
	c.text("title", cmd.Title, true, maxTitle)
	c.oneOf("kind", cmd.Kind, Kinds, false)
	c.text("hypothesis", cmd.Hypothesis, true, maxProse)
	c.text("success_metric", cmd.SuccessMetric, false, maxProse)
	c.text("success_criteria", cmd.SuccessCriteria, false, maxProse)
	c.text("owner", cmd.Owner, false, maxName)
	c.list("tags", cmd.Tags, maxList, maxTagLen)
	c.ids("builds_on", cmd.BuildsOn, maxList)
	c.oneOf("visibility", cmd.Visibility, []string{VisibilityOrg, VisibilityTeam}, false)
	c.cost("cost", cmd.Cost)
	return c.err
}

func (cmd *ReviseExperiment) validate() error {
	var c checker
	if cmd.Title == nil && cmd.Kind == nil && cmd.Hypothesis == nil && cmd.SuccessMetric == nil &&
		cmd.SuccessCriteria == nil && cmd.Owner == nil && cmd.Tags == nil && cmd.Visibility == nil && cmd.Cost == nil {
		c.fail("", "names no field to revise")
	}
	if cmd.Title != nil {
		c.text("title", *cmd.Title, true, maxTitle)
	}
	if cmd.Kind != nil {
		c.oneOf("kind", *cmd.Kind, Kinds, true)
	}
	if cmd.Hypothesis != nil {
		c.text("hypothesis", *cmd.Hypothesis, true, maxProse)
	}
	if cmd.SuccessMetric != nil {
		c.text("success_metric", *cmd.SuccessMetric, false, maxProse)
	}
	if cmd.SuccessCriteria != nil {
		c.text("success_criteria", *cmd.SuccessCriteria, false, maxProse)
	}
	if cmd.Owner != nil {
		c.text("owner", *cmd.Owner, false, maxName)
	}
	if cmd.Tags != nil {
		c.list("tags", *cmd.Tags, maxList, maxTagLen)
	}
	if cmd.Visibility != nil {
		c.oneOf("visibility", *cmd.Visibility, []string{VisibilityOrg, VisibilityTeam}, true)
	}
	c.cost("cost", cmd.Cost)
	return c.err
}

func (cmd *ConcludeExperiment) validate(now time.Time) error {
	var c checker
	c.oneOf("outcome", cmd.Outcome, Outcomes, true)
	c.oneOf("decision", cmd.Decision, Decisions, true)
	c.text("summary", cmd.Summary, true, maxProse)
	c.text("observed", cmd.Observed, false, maxProse)
	c.list("failure_reasons", cmd.FailureReasons, maxReasons, maxProse)
	c.notFuture("concluded_at", cmd.ConcludedAt, now)
	c.learnings("learnings", cmd.Learnings)
	return c.err
}

func (cmd *ReviseOutcome) validate() error {
	var c checker
	c.oneOf("outcome", cmd.Outcome, Outcomes, true)
	c.text("reason", cmd.Reason, true, maxProse)
	return c.err
}

func (cmd *AbandonExperiment) validate(now time.Time) error {
	var c checker
	c.text("reason", cmd.Reason, true, maxProse)
	c.notFuture("abandoned_at", cmd.AbandonedAt, now)
	return c.err
}

func (cmd *NewLearning) validate() error {
	var c checker
	c.text("text", cmd.Text, true, maxProse)
	c.list("skills", cmd.Skills, maxList, maxName)
	return c.err
}

func (cmd *RecordInnovation) validate(now time.Time) error {
	var c checker
	c.team("team", cmd.Team)
	c.text("title", cmd.Title, true, maxTitle)
	c.text("description", cmd.Description, false, maxProse)
	c.notFuture("launched_at", cmd.LaunchedAt, now)
	if len(cmd.InformedBy) > maxLinks {
		c.fail("informed_by", "has more than %d entries", maxLinks)
	}
	for _, l := range cmd.InformedBy {
		if !ValidID(l.ExperimentID) {
			c.fail("informed_by.experiment_id", "%q is not an experiment id", l.ExperimentID)
		}
		c.text("informed_by.note", l.Note, false, maxProse)
	}
	return c.err
}

func (cmd *LinkInput) validate() error {
	var c checker
	if !ValidID(cmd.ExperimentID) {
		c.fail("experiment_id", "must be an experiment id")
	}
	c.text("note", cmd.Note, false, maxProse)
	return c.err
}
