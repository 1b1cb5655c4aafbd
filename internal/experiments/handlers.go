package experiments

import (
	"context"

	"github.com/failforward/failforward/internal/events"
)

// RegisterExperiment registers a planned experiment and returns it.
func (s *Service) RegisterExperiment(ctx context.Context, meta Meta, cmd RegisterExperiment) (Experiment, error) {
	if err := cmd.validate(); err != nil {
		return Experiment{}, err
	}
	if !meta.Principal.CanWriteExperiment(cmd.Team) {
		return Experiment{}, forbidden("%s may not register experiments for team %s", meta.Principal.Name, cmd.Team)
	}
	for _, up := range cmd.BuildsOn {
		if err := s.mustExist(ctx, meta.Principal, up, "builds_on"); err != nil {
			return Experiment{}, err
		}
	}
	var a experimentAggregate
	out, err := create(ctx, s, experimentKind, s.newID(), cmd.Team, meta, a.register(cmd))
	if err != nil {
		return Experiment{}, err
	}
	return out.state, nil
}

// mustExist reports an invalid field when experiment id does not exist,
// or p may not see it.
func (s *Service) mustExist(ctx context.Context, p *Principal, id, field string) error {
	a, err := load(ctx, s, experimentKind, id, false, 0)
	if err != nil {
		return err
	}
	if !a.exists() || !p.CanSee(a.state.Team, a.state.Visibility) {
		return Invalid(field, "experiment %s does not exist", id)
	}
	return nil
}

// ReviseExperiment changes pre-registration fields of a planned experiment.
func (s *Service) ReviseExperiment(ctx context.Context, meta Meta, id string, cmd ReviseExperiment) (Experiment, error) {
	if err := cmd.validate(); err != nil {
		return Experiment{}, err
	}
	return s.writeExperiment(ctx, meta, id, func(a *experimentAggregate) ([]change, error) { return a.revise(cmd) })
}

// StartExperiment starts a planned experiment.
func (s *Service) StartExperiment(ctx context.Context, meta Meta, id string, cmd StartExperiment) (Experiment, error) {
	var c checker
	c.notFuture("started_at", cmd.StartedAt, s.now())
	if c.err != nil {
		return Experiment{}, c.err
	}
	return s.writeExperiment(ctx, meta, id, func(a *experimentAggregate) ([]change, error) { return a.start(cmd, s.now()) })
}

// ConcludeExperiment concludes a running experiment, with any learnings
// written in the same atomic batch.
func (s *Service) ConcludeExperiment(ctx context.Context, meta Meta, id string, cmd ConcludeExperiment) (Experiment, error) {
	if err := cmd.validate(s.now()); err != nil {
		return Experiment{}, err
	}
	return s.writeExperiment(ctx, meta, id, func(a *experimentAggregate) ([]change, error) { return a.conclude(cmd, s.now(), s.newID) })
}

// ReviseOutcome revises the outcome of a concluded experiment.
func (s *Service) ReviseOutcome(ctx context.Context, meta Meta, id string, cmd ReviseOutcome) (Experiment, error) {
	if err := cmd.validate(); err != nil {
		return Experiment{}, err
	}
	return s.writeExperiment(ctx, meta, id, func(a *experimentAggregate) ([]change, error) { return a.reviseOutcome(cmd) })
}

// AbandonExperiment abandons a planned or running experiment.
func (s *Service) AbandonExperiment(ctx context.Context, meta Meta, id string, cmd AbandonExperiment) (Experiment, error) {
	if err := cmd.validate(s.now()); err != nil {
		return Experiment{}, err
	}
	return s.writeExperiment(ctx, meta, id, func(a *experimentAggregate) ([]change, error) { return a.abandon(cmd, s.now()) })
}

// RecordLearning records a learning on an experiment of any status.
func (s *Service) RecordLearning(ctx context.Context, meta Meta, id string, cmd RecordLearning) (Experiment, error) {
	if err := cmd.validate(); err != nil {
		return Experiment{}, err
	}
	return s.writeExperiment(ctx, meta, id, func(a *experimentAggregate) ([]change, error) { return a.learning(cmd, s.newID), nil })
}

func (s *Service) writeExperiment(ctx context.Context, meta Meta, id string, decide func(*experimentAggregate) ([]change, error)) (Experiment, error) {
	a, err := write(ctx, s, experimentKind, id, meta, decide)
	if err != nil {
		return Experiment{}, err
	}
	return a.state, nil
}

// Experiment returns the current state of an experiment from the event
// store, for callers that must decide on it (such as access checks).
func (s *Service) Experiment(ctx context.Context, id string) (Experiment, error) {
	if !ValidID(id) {
		return Experiment{}, notFound("experiment", id)
	}
	a, err := load(ctx, s, experimentKind, id, false, 0)
	if err != nil {
		return Experiment{}, err
	}
	if !a.exists() {
		return Experiment{}, notFound("experiment", id)
	}
	return a.state, nil
}

// Innovation returns the current state of an innovation from the event
// store.
func (s *Service) Innovation(ctx context.Context, id string) (Innovation, error) {
	if !ValidID(id) {
		return Innovation{}, notFound("innovation", id)
	}
	a, err := load(ctx, s, innovationKind, id, false, 0)
	if err != nil {
		return Innovation{}, err
	}
	if !a.exists() {
		return Innovation{}, notFound("innovation", id)
	}
	return a.state, nil
}

// linkable checks that an innovation may be linked to experiment id: it
// exists and has ended (concluded or abandoned). An experiment that looks
// unfinished in the cache is checked again at the source.
func (s *Service) linkable(ctx context.Context, p *Principal, id, field string) error {
	for _, fresh := range []bool{false, true} {
		a, err := load(ctx, s, experimentKind, id, fresh, 0)
		if err != nil {
			return err
		}
		if !a.exists() || !p.CanSee(a.state.Team, a.state.Visibility) {
			return Invalid(field, "experiment %s does not exist", id)
		}
		if a.state.CanInform() {
			return nil
		}
		if fresh {
			return conflict("experiment %s is %s: only a concluded or abandoned experiment can inform an innovation", id, a.state.Status)
		}
	}
	return nil
}

// RecordInnovation records an innovation and links the experiments that
// informed it, in one atomic batch.
func (s *Service) RecordInnovation(ctx context.Context, meta Meta, cmd RecordInnovation) (Innovation, error) {
	if err := cmd.validate(s.now()); err != nil {
		return Innovation{}, err
	}
	if !meta.Principal.CanWriteInnovation(cmd.Team) {
		return Innovation{}, forbidden("%s may not record innovations for team %s", meta.Principal.Name, cmd.Team)
	}
	launched := s.now()
	if cmd.LaunchedAt != nil {
		launched = *cmd.LaunchedAt
	}
	changes := []change{{events.InnovationRecorded, &events.InnovationRecordedV1{
		Team: cmd.Team, Title: cmd.Title, Description: cmd.Description, LaunchedAt: launched.UTC(),
	}}}
	seen := map[string]bool{}
	for _, l := range cmd.InformedBy {
		if seen[l.ExperimentID] {
			continue
		}
		seen[l.ExperimentID] = true
		if err := s.linkable(ctx, meta.Principal, l.ExperimentID, "informed_by.experiment_id"); err != nil {
			return Innovation{}, err
		}
		changes = append(changes, change{events.InnovationLinked, &events.InnovationLinkedV1{ExperimentID: l.ExperimentID, Note: l.Note}})
	}
	out, err := create(ctx, s, innovationKind, s.newID(), cmd.Team, meta, changes)
	if err != nil {
		return Innovation{}, err
	}
	return out.state, nil
}

// LinkExperiment links an innovation to an experiment that informed it.
// Linking an experiment that is already linked changes nothing.
func (s *Service) LinkExperiment(ctx context.Context, meta Meta, id string, cmd LinkExperiment) (Innovation, error) {
	if err := cmd.validate(); err != nil {
		return Innovation{}, err
	}
	a, err := write(ctx, s, innovationKind, id, meta, func(a *innovationAggregate) ([]change, error) {
		if a.linked(cmd.ExperimentID) {
			return nil, nil
		}
		if err := s.linkable(ctx, meta.Principal, cmd.ExperimentID, "experiment_id"); err != nil {
			return nil, err
		}
		return []change{{events.InnovationLinked, &events.InnovationLinkedV1{ExperimentID: cmd.ExperimentID, Note: cmd.Note}}}, nil
	})
	if err != nil {
		return Innovation{}, err
	}
	return a.state, nil
}

// UnlinkExperiment removes the link between an innovation and an
// experiment; the link stays in history.
func (s *Service) UnlinkExperiment(ctx context.Context, meta Meta, id, experimentID string) (Innovation, error) {
	a, err := write(ctx, s, innovationKind, id, meta, func(a *innovationAggregate) ([]change, error) {
		if !a.linked(experimentID) {
			return nil, notFound("link to experiment", experimentID)
		}
		return []change{{events.InnovationUnlinked, &events.InnovationUnlinkedV1{ExperimentID: experimentID}}}, nil
	})
	if err != nil {
		return Innovation{}, err
	}
	return a.state, nil
}
