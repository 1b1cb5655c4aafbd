package experiments

import (
	"fmt"

	"github.com/failforward/failforward/internal/events"
)

// Apply folds one recorded event into s, as Experiment.Apply does for an
// experiment: the aggregate folds with it to decide commands, and the read
// side folds with it to build its rows. payload is r's data as
// events.Payload decodes it. Apply fails, and changes nothing, only when
// the event is not a story's.
//
// What the fold reads from the envelope: the author is the actor of
// story.published, the reader of story.helped is its actor, and the
// published, revised and retracted times are the events' times. A
// publication without a team is the envelope's team, and one without a
// visibility is org, as for experiments. A second mark by a reader
// already counted changes no count (the service never writes one; a tool
// appending directly might), but it is an event, so it counts in Version
// like every other.
//
// Apply changes s in place, HelpedBy included: a caller that shares a
// state (a cache) folds into a copy of it.
func (s *Story) Apply(r *events.Recorded, payload any) error {
	switch p := payload.(type) {
	case *events.StoryPublishedV1:
		*s = Story{
			ID: r.Subject, Team: orDefault(p.Team, r.Team), Title: p.Title, Tried: p.Tried, WentWrong: p.WentWrong,
			Learned: p.Learned, Differently: p.Differently, ExperimentIDs: nonNil(p.ExperimentIDs),
			Visibility: orDefault(p.Visibility, VisibilityOrg), Author: r.Actor, AuthorRole: Role(p.AuthorRole),
			PublishedAt: r.Time.UTC(), HelpedBy: map[string]bool{}, Version: s.Version,
		}
	case *events.StoryRevisedV1:
		s.revise(p)
		s.RevisedAt = ptr(r.Time.UTC())
	case *events.StoryRetractedV1:
		s.Retracted = true
		s.RetractedAt = ptr(r.Time.UTC())
		s.RetractReason = p.Reason
	case *events.StoryHelpedV1:
		if !s.HelpedBy[r.Actor] {
			if s.HelpedBy == nil {
				s.HelpedBy = map[string]bool{}
			}
			s.HelpedBy[r.Actor] = true
			s.Helped++
		}
	default:
		return fmt.Errorf("story %s event %d: %s is not a story event", r.Subject, r.Sequence, r.Type)
	}
	s.Version++
	s.Position = r.Sequence
	return nil
}

// revise changes only the fields the revision carries.
func (s *Story) revise(p *events.StoryRevisedV1) {
	set(&s.Title, p.Title)
	set(&s.Tried, p.Tried)
	set(&s.WentWrong, p.WentWrong)
	set(&s.Learned, p.Learned)
	set(&s.Differently, p.Differently)
	set(&s.Visibility, p.Visibility)
	if p.ExperimentIDs != nil {
		s.ExperimentIDs = nonNil(*p.ExperimentIDs)
	}
}
