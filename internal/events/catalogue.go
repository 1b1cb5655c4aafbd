package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/failforward/failforward/schema"
)

// TypePrefix starts every event type; the version suffix ends it.
const TypePrefix = "failforward."

// SubjectRoot is the first token of every subject in the stream.
const SubjectRoot = "tracker"

// Aggregate names as they appear in subjects.
const (
	AggregateExperiment = "experiment"
	AggregateInnovation = "innovation"
	AggregateStory      = "story"
)

// Event names: the last subject token, and the type without prefix and
// version.
const (
	ExperimentRegistered       = "experiment.registered"
	ExperimentRevised          = "experiment.revised"
	ExperimentStarted          = "experiment.started"
	ExperimentConcluded        = "experiment.concluded"
	ExperimentOutcomeRevised   = "experiment.outcome_revised"
	ExperimentAbandoned        = "experiment.abandoned"
	ExperimentLearningRecorded = "experiment.learning_recorded"
	InnovationRecorded         = "innovation.recorded"
	InnovationLinked           = "innovation.linked"
	InnovationUnlinked         = "innovation.unlinked"
	StoryPublished             = "story.published"
	StoryRevised               = "story.revised"
	StoryRetracted             = "story.retracted"
	StoryHelped                = "story.helped"
)

// Names lists every event name in the catalogue.
var Names = []string{
	ExperimentRegistered, ExperimentRevised, ExperimentStarted, ExperimentConcluded,
	ExperimentOutcomeRevised, ExperimentAbandoned, ExperimentLearningRecorded,
	InnovationRecorded, InnovationLinked, InnovationUnlinked,
	WebhookCreated, WebhookChanged, WebhookPaused, WebhookResumed, WebhookDeleted,
	StoryPublished, StoryRevised, StoryRetracted, StoryHelped,
}

// CurrentVersion is the payload version the code writes for every name
// today. Names move to a new version one at a time; VersionOf is the
// authority for each name.
const CurrentVersion = 1

// versions holds the names whose current version is not CurrentVersion.
// Moving a name to version N+1 means: a payload struct for N+1, a case
// for it in newPayload, an entry here, an upcaster from N in upcasters,
// and a schema file schema/events/<name>.v<N+1>.json beside the old one
// (see schema/README.md).
var versions = map[string]int{}

// VersionOf returns the payload version the code writes for name.
func VersionOf(name string) int {
	if v, ok := versions[name]; ok {
		return v
	}
	return CurrentVersion
}

// TypeOf returns the CloudEvents type of name at its current version,
// for instance "failforward.experiment.concluded.v1".
func TypeOf(name string) string {
	return fmt.Sprintf("%s%s.v%d", TypePrefix, name, VersionOf(name))
}

// ParseType splits a CloudEvents type into event name and version.
func ParseType(typ string) (name string, version int, err error) {
	rest, ok := strings.CutPrefix(typ, TypePrefix)
	i := strings.LastIndex(rest, ".v")
	if !ok || i <= 0 {
		return "", 0, fmt.Errorf("%w: unknown type %q", ErrMalformed, typ)
	}
	// Only canonical digits: "v1x", "v+1" or "v01" would otherwise parse
	// as version 1 and pass a type the catalogue never wrote.
	digits := rest[i+2:]
	version, err = strconv.Atoi(digits)
	if err != nil || version < 1 || digits[0] == '0' || strings.TrimLeft(digits, "0123456789") != "" {
		return "", 0, fmt.Errorf("%w: bad version in type %q", ErrMalformed, typ)
	}
	return rest[:i], version, nil
}

// SchemaOf returns the dataschema URI of name at its current version: the
// $id of its JSON Schema, schema/events/<name>.v<N>.json, a URN that
// schema.EventSchemaFile resolves to that file. CloudEvents wants an
// absolute URI there, not a path; a name rather than an address keeps it
// true wherever the files are published.
func SchemaOf(name string) string {
	return schema.EventSchemaID(fmt.Sprintf("%s.v%d.json", name, VersionOf(name)))
}

// Subject returns the NATS subject an event is written to:
// tracker.<aggregate>.<id>.<event>.
func Subject(name, id string) string {
	aggregate, event, _ := strings.Cut(name, ".")
	return SubjectRoot + "." + aggregate + "." + id + "." + event
}

// AggregateFilter returns the subject filter matching every event of one
// aggregate: tracker.<aggregate>.<id>.*.
func AggregateFilter(aggregate, id string) string {
	return SubjectRoot + "." + aggregate + "." + id + ".*"
}

// Cost is what an experiment is expected to take.
type Cost struct {
	PersonDays float64 `json:"person_days,omitempty"`
	Spend      float64 `json:"spend,omitempty"`
}

// ExperimentRegisteredV1 is the payload of experiment.registered.v1.
type ExperimentRegisteredV1 struct {
	Team            string   `json:"team"`
	Title           string   `json:"title"`
	Kind            string   `json:"kind"`
	Hypothesis      string   `json:"hypothesis"`
	SuccessMetric   string   `json:"success_metric"`
	SuccessCriteria string   `json:"success_criteria"`
	Owner           string   `json:"owner"`
	Tags            []string `json:"tags"`
	BuildsOn        []string `json:"builds_on"`
	Visibility      string   `json:"visibility"`
	Cost            *Cost    `json:"cost,omitempty"`
}

// Defaults of experiment.registered.v1 fields that an event may lack.
const (
	defaultKind       = "other"
	defaultVisibility = "org"
)

// applyDefaults fills in what an older writer left out. The contract
// (schema/events/experiment.registered.v1.json) makes kind and visibility
// optional, read as "other" and "org" when absent, so that an event
// written without them (by an early build, or by a tool that appends
// directly) means the same to every reader.
func (p *ExperimentRegisteredV1) applyDefaults() {
	if p.Kind == "" {
		p.Kind = defaultKind
	}
	if p.Visibility == "" {
		p.Visibility = defaultVisibility
	}
}

// ExperimentRevisedV1 is the payload of experiment.revised.v1: the
// pre-registration fields changed while planned; absent fields are kept.
type ExperimentRevisedV1 struct {
	Title           *string   `json:"title,omitempty"`
	Kind            *string   `json:"kind,omitempty"`
	Hypothesis      *string   `json:"hypothesis,omitempty"`
	SuccessMetric   *string   `json:"success_metric,omitempty"`
	SuccessCriteria *string   `json:"success_criteria,omitempty"`
	Owner           *string   `json:"owner,omitempty"`
	Tags            *[]string `json:"tags,omitempty"`
	Visibility      *string   `json:"visibility,omitempty"`
	Cost            *Cost     `json:"cost,omitempty"`
}

// ExperimentStartedV1 is the payload of experiment.started.v1.
type ExperimentStartedV1 struct {
	StartedAt time.Time `json:"started_at"`
}

// ExperimentConcludedV1 is the payload of experiment.concluded.v1.
type ExperimentConcludedV1 struct {
	Outcome        string    `json:"outcome"`
	Decision       string    `json:"decision"`
	Summary        string    `json:"summary"`
	Observed       string    `json:"observed,omitempty"`
	FailureReasons []string  `json:"failure_reasons,omitempty"`
	ConcludedAt    time.Time `json:"concluded_at"`
}

// ExperimentOutcomeRevisedV1 is the payload of
// experiment.outcome_revised.v1; the original call stays in history.
type ExperimentOutcomeRevisedV1 struct {
	Outcome         string `json:"outcome"`
	PreviousOutcome string `json:"previous_outcome"`
	Reason          string `json:"reason"`
}

// ExperimentAbandonedV1 is the payload of experiment.abandoned.v1.
type ExperimentAbandonedV1 struct {
	Reason      string    `json:"reason"`
	AbandonedAt time.Time `json:"abandoned_at"`
}

// ExperimentLearningRecordedV1 is the payload of
// experiment.learning_recorded.v1.
type ExperimentLearningRecordedV1 struct {
	LearningID string   `json:"learning_id"`
	Text       string   `json:"text"`
	Skills     []string `json:"skills"`
}

// InnovationRecordedV1 is the payload of innovation.recorded.v1.
type InnovationRecordedV1 struct {
	Team        string    `json:"team"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	LaunchedAt  time.Time `json:"launched_at"`
}

// InnovationLinkedV1 is the payload of innovation.linked.v1.
type InnovationLinkedV1 struct {
	ExperimentID string `json:"experiment_id"`
	Note         string `json:"note,omitempty"`
}

// InnovationUnlinkedV1 is the payload of innovation.unlinked.v1.
type InnovationUnlinkedV1 struct {
	ExperimentID string `json:"experiment_id"`
	Reason       string `json:"reason,omitempty"`
}

// newPayload returns a pointer to a zero payload of name at version; only
// the current version of each name has a payload type, older ones are
// upcast to it first.
func newPayload(name string, version int) (any, bool) {
	if version != VersionOf(name) {
		return nil, false
	}
	switch name {
	case ExperimentRegistered:
		return &ExperimentRegisteredV1{}, true
	case ExperimentRevised:
		return &ExperimentRevisedV1{}, true
	case ExperimentStarted:
		return &ExperimentStartedV1{}, true
	case ExperimentConcluded:
		return &ExperimentConcludedV1{}, true
	case ExperimentOutcomeRevised:
		return &ExperimentOutcomeRevisedV1{}, true
	case ExperimentAbandoned:
		return &ExperimentAbandonedV1{}, true
	case ExperimentLearningRecorded:
		return &ExperimentLearningRecordedV1{}, true
	case InnovationRecorded:
		return &InnovationRecordedV1{}, true
	case InnovationLinked:
		return &InnovationLinkedV1{}, true
	case InnovationUnlinked:
		return &InnovationUnlinkedV1{}, true
	case WebhookCreated:
		return &WebhookCreatedV1{}, true
	case WebhookChanged:
		return &WebhookChangedV1{}, true
	case WebhookPaused:
		return &WebhookPausedV1{}, true
	case WebhookResumed:
		return &WebhookResumedV1{}, true
	case WebhookDeleted:
		return &WebhookDeletedV1{}, true
	case StoryPublished:
		return &StoryPublishedV1{}, true
	case StoryRevised:
		return &StoryRevisedV1{}, true
	case StoryRetracted:
		return &StoryRetractedV1{}, true
	case StoryHelped:
		return &StoryHelpedV1{}, true
	}
	return nil, false
}

// Payload decodes the envelope's data into the payload type of its event
// at the current version, upcasting older versions first. It returns the
// event name and a pointer to the payload, for instance
// *ExperimentConcludedV1. Unknown fields are ignored and fields an older
// writer left out get their documented defaults: additive changes within
// a version must not break readers. A version newer than the code knows
// fails with ErrMalformed.
func Payload(e *Envelope) (name string, payload any, err error) {
	name, version, err := ParseType(e.Type)
	if err != nil {
		return "", nil, err
	}
	data, err := upcast(upcasters, name, version, VersionOf(name), []byte(e.Data))
	if err != nil {
		return "", nil, err
	}
	p, ok := newPayload(name, VersionOf(name))
	if !ok || version > VersionOf(name) {
		return "", nil, fmt.Errorf("%w: unknown event type %q", ErrMalformed, e.Type)
	}
	if err := json.Unmarshal(data, p); err != nil {
		return "", nil, fmt.Errorf("%w: %s payload: %v", ErrMalformed, e.Type, err)
	}
	if d, ok := p.(interface{ applyDefaults() }); ok {
		d.applyDefaults()
	}
	return name, p, nil
}

type upcastKey struct {
	name    string
	version int
}

// upcaster turns the data of one version into the data of the next.
type upcaster func(data []byte) ([]byte, error)

// upcasters turn the data of name at version into the data of version+1.
// Every version that was ever written keeps its upcaster forever: the
// stream is never rewritten. None exists yet: every name is at v1.
var upcasters = map[upcastKey]upcaster{}

// upcast walks data of name from version up to target, one upcaster at a
// time, so that each upcaster only knows two adjacent shapes. Data at or
// above target is returned as it is.
func upcast(ups map[upcastKey]upcaster, name string, version, target int, data []byte) ([]byte, error) {
	for ; version < target; version++ {
		up, ok := ups[upcastKey{name, version}]
		if !ok {
			return nil, fmt.Errorf("%w: no upcaster for %s.v%d", ErrMalformed, name, version)
		}
		var err error
		if data, err = up(data); err != nil {
			return nil, fmt.Errorf("%w: upcast %s.v%d: %v", ErrMalformed, name, version, err)
		}
	}
	return data, nil
}
