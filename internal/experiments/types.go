// Package experiments is failforward's domain: the Experiment and
// Innovation aggregates, the commands that change them, and the rules
// those commands must keep. Commands decide which events happen; apply
// folds events into state and never fails.
package experiments

import (
	"time"

	"github.com/failforward/failforward/internal/events"
)

// Experiment statuses.
const (
	StatusPlanned   = "planned"
	StatusRunning   = "running"
	StatusConcluded = "concluded"
	StatusAbandoned = "abandoned"
)

// Outcomes of a concluded experiment.
const (
	OutcomeSucceeded    = "succeeded"
	OutcomeFailed       = "failed"
	OutcomeInconclusive = "inconclusive"
)

// Visibility of an experiment: the whole organisation, or its team (with
// leads and admins) only.
const (
	VisibilityOrg  = "org"
	VisibilityTeam = "team"
)

// Kinds, Outcomes and Decisions list the allowed values of those fields.
var (
	Kinds     = []string{"ab_test", "prototype", "interview", "fake_door", "pilot", "other"}
	Outcomes  = []string{OutcomeSucceeded, OutcomeFailed, OutcomeInconclusive}
	Decisions = []string{"persevere", "pivot", "iterate", "stop", "scale"}
)

// Learning is one thing an experiment taught, with the skills it names.
type Learning struct {
	ID           string    `json:"id" db:"id"`
	ExperimentID string    `json:"experiment_id" db:"experiment_id"`
	Text         string    `json:"text" db:"text"`
	Skills       []string  `json:"skills"`
	RecordedAt   time.Time `json:"recorded_at" db:"recorded_at"`
}

// Experiment is the state of one experiment, as the aggregate folds it
// from its events and as the read model serves it.
type Experiment struct {
	ID               string       `json:"id"`
	Team             string       `json:"team"`
	Title            string       `json:"title"`
	Kind             string       `json:"kind"`
	Hypothesis       string       `json:"hypothesis"`
	SuccessMetric    string       `json:"success_metric"`
	SuccessCriteria  string       `json:"success_criteria"`
	Owner            string       `json:"owner"`
	Tags             []string     `json:"tags"`
	BuildsOn         []string     `json:"builds_on"`
	Visibility       string       `json:"visibility"`
	Status           string       `json:"status"`
	Outcome          string       `json:"outcome,omitempty"`
	Decision         string       `json:"decision,omitempty"`
	Summary          string       `json:"summary,omitempty"`
	Observed         string       `json:"observed,omitempty"`
	FailureReasons   []string     `json:"failure_reasons,omitempty"`
	AbandonReason    string       `json:"abandon_reason,omitempty"`
	Cost             *events.Cost `json:"cost,omitempty"`
	OutcomeRevisions int          `json:"outcome_revisions"`
	Learnings        []Learning   `json:"learnings"`
	RegisteredAt     time.Time    `json:"registered_at"`
	StartedAt        *time.Time   `json:"started_at,omitempty"`
	ConcludedAt      *time.Time   `json:"concluded_at,omitempty"`
	AbandonedAt      *time.Time   `json:"abandoned_at,omitempty"`
	// Version counts the aggregate's events; it is the resource's ETag.
	Version uint64 `json:"version"`
	// Position is the stream sequence of the aggregate's last event.
	Position uint64 `json:"position"`
}

// Link ties an innovation to an experiment whose learnings informed it.
type Link struct {
	ExperimentID string    `json:"experiment_id"`
	Note         string    `json:"note,omitempty"`
	LinkedAt     time.Time `json:"linked_at"`
}

// Innovation is the state of one shipped innovation and the experiments
// that informed it.
type Innovation struct {
	ID          string    `json:"id"`
	Team        string    `json:"team"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	LaunchedAt  time.Time `json:"launched_at"`
	RecordedAt  time.Time `json:"recorded_at"`
	InformedBy  []Link    `json:"informed_by"`
	Version     uint64    `json:"version"`
	Position    uint64    `json:"position"`
}
