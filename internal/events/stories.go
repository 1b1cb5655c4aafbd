package events

// Failure stories: a person tells what they tried, what went wrong, what
// they learned and what they would do differently, about one or more
// experiments. Leads telling their own failures are who the feature is
// for, which is why the published event records the author's role at the
// time: the story shows it forever, whatever the author's role becomes.
//
// The author of a story is the actor of its story.published event; the
// reader who marked a story helpful is the actor of its story.helped
// event. The envelope's team is the story's team, on every event.

// StoryPublishedV1 is the payload of story.published.v1: a new story,
// complete. ExperimentIDs keeps the author's order and names each
// experiment once.
type StoryPublishedV1 struct {
	Team          string   `json:"team"`
	Title         string   `json:"title"`
	Tried         string   `json:"tried"`
	WentWrong     string   `json:"went_wrong"`
	Learned       string   `json:"learned"`
	Differently   string   `json:"differently"`
	ExperimentIDs []string `json:"experiment_ids"`
	Visibility    string   `json:"visibility"`
	// AuthorRole is the author's role when they published: member, lead
	// or admin.
	AuthorRole string `json:"author_role"`
}

// StoryRevisedV1 is the payload of story.revised.v1: only the members
// that changed are present; absent members keep their value. A story's
// team, author and author role never change.
type StoryRevisedV1 struct {
	Title         *string   `json:"title,omitempty"`
	Tried         *string   `json:"tried,omitempty"`
	WentWrong     *string   `json:"went_wrong,omitempty"`
	Learned       *string   `json:"learned,omitempty"`
	Differently   *string   `json:"differently,omitempty"`
	ExperimentIDs *[]string `json:"experiment_ids,omitempty"`
	Visibility    *string   `json:"visibility,omitempty"`
}

// StoryRetractedV1 is the payload of story.retracted.v1: the story leaves
// every page and count, and stays in the stream. Reason is optional.
type StoryRetractedV1 struct {
	Reason string `json:"reason,omitempty"`
}

// StoryHelpedV1 is the payload of story.helped.v1: one reader, the
// event's actor, marked the story "this helped me". It has no members;
// the service writes it at most once per actor and story.
type StoryHelpedV1 struct{}
