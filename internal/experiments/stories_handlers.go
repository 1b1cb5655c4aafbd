package experiments

import (
	"context"
	"slices"

	"github.com/failforward/failforward/internal/events"
)

// PublishStory publishes a failure story and returns it. The author is
// meta.Actor, and the author's role (meta.Principal's; admin for the
// unrestricted local user) is recorded in the event, to be shown forever.
// Refusals: 400 for a field (team, when it must be named; an experiment
// id that does not exist or that the author cannot see, as
// experiment_ids; the visibility cap of capVisibility), 403 for a team
// the author may not publish for.
func (s *Service) PublishStory(ctx context.Context, meta Meta, cmd PublishStory) (Story, error) {
	if err := cmd.validate(); err != nil {
		return Story{}, err
	}
	p := meta.Principal
	team, err := storyTeam(p, cmd.Team)
	if err != nil {
		return Story{}, err
	}
	if !p.CanPublishStory(team) {
		return Story{}, forbidden("%s may not publish stories for team %s", p.Name, team)
	}
	linked, err := s.linkedExperiments(ctx, p, cmd.ExperimentIDs, nil)
	if err != nil {
		return Story{}, err
	}
	visibility, err := capVisibility(team, cmd.Visibility, linked, "team")
	if err != nil {
		return Story{}, err
	}
	out, err := create(ctx, s, storyKind, s.newID(), team, meta, []change{{events.StoryPublished, &events.StoryPublishedV1{
		Team: team, Title: cmd.Title, Tried: cmd.Tried, WentWrong: cmd.WentWrong, Learned: cmd.Learned,
		Differently: cmd.Differently, ExperimentIDs: cmd.ExperimentIDs, Visibility: visibility, AuthorRole: string(p.role()),
	}}})
	if err != nil {
		return Story{}, err
	}
	return out.clone().state, nil
}

// ReviseStory changes fields of a story, as its author or an admin. The
// event carries only the fields that changed; a revision that changes
// nothing writes nothing. New experiment ids must exist and be visible to
// the reviser, and the visibility cap is checked again on the story as
// revised, since a linked experiment may have become team-only since.
func (s *Service) ReviseStory(ctx context.Context, meta Meta, id string, cmd ReviseStory) (Story, error) {
	if err := cmd.validate(); err != nil {
		return Story{}, err
	}
	return s.writeStory(ctx, meta, id, StoryRevise, func(a *storyAggregate) ([]change, error) {
		rev := a.revision(cmd)
		if rev == nil {
			return nil, nil
		}
		ids, visibility := a.state.ExperimentIDs, a.state.Visibility
		set(&ids, rev.ExperimentIDs)
		set(&visibility, rev.Visibility)
		linked, err := s.linkedExperiments(ctx, meta.Principal, ids, a.state.ExperimentIDs)
		if err != nil {
			return nil, err
		}
		if _, err := capVisibility(a.state.Team, visibility, linked, "experiment_ids"); err != nil {
			return nil, err
		}
		return []change{{events.StoryRevised, rev}}, nil
	})
}

// RetractStory retracts a story, as its author, a lead of its team or an
// admin. The story leaves pages and counts and takes no more commands; a
// second retraction is a conflict.
func (s *Service) RetractStory(ctx context.Context, meta Meta, id string, cmd RetractStory) (Story, error) {
	if err := cmd.validate(); err != nil {
		return Story{}, err
	}
	return s.writeStory(ctx, meta, id, StoryRetract, func(*storyAggregate) ([]change, error) {
		return []change{{events.StoryRetracted, &events.StoryRetractedV1{Reason: cmd.Reason}}}, nil
	})
}

// MarkStoryHelped records that meta.Actor, a reader who can see the story
// and is not its author, found it helpful. A reader's second mark writes
// nothing and returns the story as it is.
func (s *Service) MarkStoryHelped(ctx context.Context, meta Meta, id string) (Story, error) {
	return s.writeStory(ctx, meta, id, StoryHelped, func(a *storyAggregate) ([]change, error) {
		if a.state.HelpedActor(meta.Actor) {
			return nil, nil
		}
		return []change{{events.StoryHelped, &events.StoryHelpedV1{}}}, nil
	})
}

// writeStory runs cmd through the write loop, refused as Story.Permits
// says before decide is asked.
func (s *Service) writeStory(ctx context.Context, meta Meta, id string, cmd StoryCommand, decide func(*storyAggregate) ([]change, error)) (Story, error) {
	a, err := write(ctx, s, storyKind, id, meta, func(a *storyAggregate) ([]change, error) {
		if err := a.state.Permits(meta.Principal, meta.Actor, cmd); err != nil {
			return nil, err
		}
		return decide(a)
	})
	if err != nil {
		return Story{}, err
	}
	return a.clone().state, nil
}

// Story returns the current state of a story from the event store, for
// reads of one story and for callers that must decide on it. A story p
// may not see is not found, as if it did not exist. A retracted story is
// returned, with Retracted set: whether to show that it was retracted or
// answer as if it were gone is the caller's choice.
//
// It reads the stream, not the cache: another process may have narrowed
// the story's visibility since this one cached it, and a read must not
// show a story to someone it was just hidden from.
func (s *Service) Story(ctx context.Context, p *Principal, id string) (Story, error) {
	if !ValidID(id) {
		return Story{}, notFound("story", id)
	}
	a, err := load(ctx, s, storyKind, id, true, 0)
	if err != nil {
		return Story{}, err
	}
	if !a.exists() || !a.state.VisibleTo(p) {
		return Story{}, notFound("story", id)
	}
	return a.clone().state, nil
}

// linkedExperiments loads the experiments a story names, fresh from the
// store: a cached visibility may be stale, and the cap on the story's
// visibility must not rest on it. Each must exist and, unless it is in
// kept (the ones the story already names, on a revision), be visible to
// p; otherwise it is reported as an unknown experiment, so that a story
// reveals no experiment its author may not see.
func (s *Service) linkedExperiments(ctx context.Context, p *Principal, ids, kept []string) ([]Experiment, error) {
	out := make([]Experiment, 0, len(ids))
	for _, id := range ids {
		a, err := load(ctx, s, experimentKind, id, true, 0)
		if err != nil {
			return nil, err
		}
		if !a.exists() || (!slices.Contains(kept, id) && !p.CanSee(a.state.Team, a.state.Visibility)) {
			return nil, Invalid("experiment_ids", "experiment %s does not exist", id)
		}
		out = append(out, a.state)
	}
	return out, nil
}

// capVisibility applies the rule that a story is at most as visible as
// the experiments it is about, and returns the visibility to write.
//
// A story about a team-only (confidential) experiment tells what that
// experiment tried and learned, so it may be seen only by those who see
// the experiment: its team, leads and admins. Hence, when any linked
// experiment is team-only:
//   - the story's team must be that experiment's team (else 400 on
//     teamField: "team" on publish, where the author chooses the team,
//     and "experiment_ids" on revise, where the team is fixed). A team
//     story of another team would show it to that other team; and two
//     team-only experiments of different teams cannot share a story.
//   - the story must be team-visible. Asked for org, the command is
//     refused (400 on visibility) rather than narrowed: an author who
//     chose org and silently got team would believe the whole
//     organisation can read it. Left out (on publish), visibility is the
//     widest the experiments allow: team here, org otherwise.
//
// The cap is checked whenever a story is published or revised. An
// experiment can only change visibility while planned, so a story about
// an experiment that later became team-only keeps its visibility until
// its next revision, which is then refused until it narrows it; the read
// side should hide from a reader any linked experiment it may not see.
func capVisibility(team, visibility string, linked []Experiment, teamField string) (string, error) {
	var confidential *Experiment
	for i := range linked {
		x := &linked[i]
		if x.Visibility != VisibilityTeam {
			continue
		}
		if x.Team != team {
			return "", Invalid(teamField, "experiment %s is visible to team %s only, so a story about it must belong to team %s, not %s",
				x.ID, x.Team, x.Team, team)
		}
		confidential = x
	}
	switch {
	case confidential == nil:
		return orDefault(visibility, VisibilityOrg), nil
	case visibility == VisibilityOrg:
		return "", Invalid("visibility", "experiment %s is visible to team %s only, so a story about it can be too: "+
			"make the story's visibility team, or leave that experiment out", confidential.ID, team)
	}
	return VisibilityTeam, nil
}
