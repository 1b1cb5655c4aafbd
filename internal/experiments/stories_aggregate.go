package experiments

import (
	"maps"
	"slices"

	"github.com/failforward/failforward/internal/events"
)

// storyAggregate is a story's state folded from its events.
type storyAggregate struct {
	history
	state Story
}

var storyKind = kind[*storyAggregate]{events.AggregateStory, func() *storyAggregate { return &storyAggregate{} }}

func (a *storyAggregate) exists() bool   { return a.version > 0 }
func (a *storyAggregate) hist() *history { return &a.history }
func (a *storyAggregate) team() string   { return a.state.Team }

// apply folds one event into the state with Story.Apply, and counts it in
// the aggregate's history.
func (a *storyAggregate) apply(r *events.Recorded) error {
	return a.fold(&a.state, "story", r)
}

// authorize lets through whoever may see the story; what each command
// further requires is Story.Permits', checked when it is decided.
func (a *storyAggregate) authorize(p *Principal) error {
	if !a.state.VisibleTo(p) {
		return notFound("story", a.state.ID)
	}
	return nil
}

func (a *storyAggregate) clone() *storyAggregate {
	c := *a
	c.keys = maps.Clone(a.keys)
	c.state.ExperimentIDs = slices.Clone(a.state.ExperimentIDs)
	c.state.HelpedBy = maps.Clone(a.state.HelpedBy)
	return &c
}

// revision is what cmd changes of the story: only the fields whose value
// differs, so that the history shows what was really revised. It is nil
// when nothing differs.
func (a *storyAggregate) revision(cmd ReviseStory) *events.StoryRevisedV1 {
	x := &a.state
	rev := &events.StoryRevisedV1{
		Title: changed(x.Title, cmd.Title), Tried: changed(x.Tried, cmd.Tried), WentWrong: changed(x.WentWrong, cmd.WentWrong),
		Learned: changed(x.Learned, cmd.Learned), Differently: changed(x.Differently, cmd.Differently),
		Visibility: changed(x.Visibility, cmd.Visibility),
	}
	if cmd.ExperimentIDs != nil && !slices.Equal(*cmd.ExperimentIDs, x.ExperimentIDs) {
		rev.ExperimentIDs = cmd.ExperimentIDs
	}
	if *rev == (events.StoryRevisedV1{}) {
		return nil
	}
	return rev
}

// changed is v when it is given and differs from the current value.
func changed(current string, v *string) *string {
	if v == nil || *v == current {
		return nil
	}
	return v
}
