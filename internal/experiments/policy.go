package experiments

import "slices"

// Command names a command on an existing experiment. Its value is the
// last segment of the command's route (POST /v1/experiments/{id}/<value>),
// except for CommandRevise, which is a PATCH of the experiment itself.
type Command string

// The commands on an existing experiment.
const (
	CommandRevise         Command = "revise"
	CommandStart          Command = "start"
	CommandConclude       Command = "conclude"
	CommandReviseOutcome  Command = "outcome"
	CommandAbandon        Command = "abandon"
	CommandRecordLearning Command = "learnings"
)

// Statuses lists every experiment status, in the order an experiment
// passes through them.
var Statuses = []string{StatusPlanned, StatusRunning, StatusConcluded, StatusAbandoned}

// ExperimentCommands lists every command on an existing experiment.
var ExperimentCommands = []Command{
	CommandRevise, CommandStart, CommandConclude, CommandReviseOutcome, CommandAbandon, CommandRecordLearning,
}

// transition is the rule of one command: the statuses that allow it, and
// how a refusal is worded.
type transition struct {
	from []string // empty: any status
	only string   // "only <only> can <verb>"
}

// transitions is the one place where an experiment's status decides which
// commands it takes. The aggregate refuses by it and the pages offer by
// it, so the two cannot disagree.
var transitions = map[Command]transition{
	CommandRevise:         {from: []string{StatusPlanned}, only: "its pre-registration is sealed once started"},
	CommandStart:          {from: []string{StatusPlanned}, only: "only a planned experiment can start"},
	CommandConclude:       {from: []string{StatusRunning}, only: "only a running experiment can conclude"},
	CommandReviseOutcome:  {from: []string{StatusConcluded}, only: "only a concluded experiment's outcome can be revised"},
	CommandAbandon:        {from: []string{StatusPlanned, StatusRunning}, only: "only a planned or running experiment can be abandoned"},
	CommandRecordLearning: {},
}

// Allows reports whether the experiment's status allows cmd. An unknown
// command is never allowed.
func (x *Experiment) Allows(cmd Command) bool {
	t, ok := transitions[cmd]
	return ok && (len(t.from) == 0 || slices.Contains(t.from, x.Status))
}

// checkAllows returns the conflict error of a command the experiment's
// status rules out, or nil when it allows it.
func (x *Experiment) checkAllows(cmd Command) error {
	if x.Allows(cmd) {
		return nil
	}
	return conflict("experiment %s is %s: %s", x.ID, x.Status, transitions[cmd].only)
}

// EndedStatuses are the statuses of an experiment that has ended: only
// such an experiment can inform an innovation, since only then is there
// a result to learn from.
var EndedStatuses = []string{StatusConcluded, StatusAbandoned}

// CanInform reports whether an innovation may be linked to the experiment.
func (x *Experiment) CanInform() bool { return slices.Contains(EndedStatuses, x.Status) }
