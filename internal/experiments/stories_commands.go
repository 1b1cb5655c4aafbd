package experiments

import (
	"slices"
	"strings"
)

// maxStoryExperiments bounds how many experiments one story is about: a
// story tells one failure, and a list longer than this is a report.
const maxStoryExperiments = 20

// PublishStory publishes a failure story about one or more experiments.
type PublishStory struct {
	// Team is the team the story belongs to. It may be left out by an
	// author with exactly one team, whose team it then is.
	Team        string `json:"team"`
	Title       string `json:"title"`
	Tried       string `json:"tried"`
	WentWrong   string `json:"went_wrong"`
	Learned     string `json:"learned"`
	Differently string `json:"differently"`
	// ExperimentIDs are the experiments the story is about: one to 20,
	// each once, each one the author can see.
	ExperimentIDs []string `json:"experiment_ids"`
	// Visibility is org or team; left out, it is the widest the linked
	// experiments allow (see capVisibility).
	Visibility string `json:"visibility"`
}

// ReviseStory changes fields of a story; absent fields stay as they are,
// and fields given with their current value are not revisions. A story's
// team never changes: one published under the wrong team is retracted and
// published anew.
type ReviseStory struct {
	Title         *string   `json:"title"`
	Tried         *string   `json:"tried"`
	WentWrong     *string   `json:"went_wrong"`
	Learned       *string   `json:"learned"`
	Differently   *string   `json:"differently"`
	ExperimentIDs *[]string `json:"experiment_ids"`
	Visibility    *string   `json:"visibility"`
}

// RetractStory retracts a story, with an optional reason.
type RetractStory struct {
	Reason string `json:"reason"`
}

// storyExperiments checks the experiment ids of a story: one to
// maxStoryExperiments ids, each an id and none twice. A duplicate is
// refused rather than dropped, since it is most likely another
// experiment's id pasted wrong.
func (c *checker) storyExperiments(field string, ids []string) {
	if len(ids) == 0 {
		c.fail(field, "is required: name at least one experiment the story is about")
		return
	}
	c.ids(field, ids, maxStoryExperiments)
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			c.fail(field, "names experiment %s twice", id)
		}
	}
}

var storyVisibilities = []string{VisibilityOrg, VisibilityTeam}

func (cmd *PublishStory) validate() error {
	var c checker
	if cmd.Team != "" {
		c.team("team", cmd.Team)
	}
	c.text("title", cmd.Title, true, maxTitle)
	c.text("tried", cmd.Tried, false, maxProse)
	c.text("went_wrong", cmd.WentWrong, false, maxProse)
	c.text("learned", cmd.Learned, true, maxProse)
	c.text("differently", cmd.Differently, false, maxProse)
	c.storyExperiments("experiment_ids", cmd.ExperimentIDs)
	c.oneOf("visibility", cmd.Visibility, storyVisibilities, false)
	return c.err
}

func (cmd *ReviseStory) validate() error {
	var c checker
	if cmd.Title == nil && cmd.Tried == nil && cmd.WentWrong == nil && cmd.Learned == nil &&
		cmd.Differently == nil && cmd.ExperimentIDs == nil && cmd.Visibility == nil {
		c.fail("", "names no field to revise")
	}
	for _, f := range []struct {
		name     string
		v        *string
		required bool
		max      int
	}{
		{"title", cmd.Title, true, maxTitle}, {"tried", cmd.Tried, false, maxProse},
		{"went_wrong", cmd.WentWrong, false, maxProse}, {"learned", cmd.Learned, true, maxProse},
		{"differently", cmd.Differently, false, maxProse},
	} {
		if f.v != nil {
			c.text(f.name, *f.v, f.required, f.max)
		}
	}
	if cmd.ExperimentIDs != nil {
		c.storyExperiments("experiment_ids", *cmd.ExperimentIDs)
	}
	if cmd.Visibility != nil {
		c.oneOf("visibility", *cmd.Visibility, storyVisibilities, true)
	}
	return c.err
}

func (cmd *RetractStory) validate() error {
	var c checker
	c.text("reason", cmd.Reason, false, maxProse)
	return c.err
}

// storyTeam is the team a story is published for: the one named, else
// the author's only team. The unrestricted local user, and an author with
// no team or several, must name it.
func storyTeam(p *Principal, team string) (string, error) {
	switch {
	case team != "":
		return team, nil
	case p == nil:
		return "", Invalid("team", "is required")
	case len(p.Teams) == 1:
		return p.Teams[0], nil
	case len(p.Teams) == 0:
		return "", Invalid("team", "is required: %s belongs to no team", p.Name)
	}
	return "", Invalid("team", "is required: %s belongs to several teams (%s)", p.Name, strings.Join(p.Teams, ", "))
}
