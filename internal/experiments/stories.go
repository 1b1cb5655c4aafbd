package experiments

import (
	"fmt"
	"time"
)

// Failure stories are how people, leads above all, share their own
// failures: what they tried, what went wrong, what they learned and what
// they would do differently, about one or more experiments.
//
// Who may do what to a story:
//   - publish: any write role (member, lead, admin; not viewer) for a
//     team it may write experiments for; a lead for any team. The story's
//     team is the one named, or the author's only team when they have
//     exactly one (the unrestricted local user has none, so it names one).
//   - see: like an experiment, an org story is seen by everyone and a
//     team story by its team, leads and admins; anyone else gets 404.
//   - revise: its author or an admin (with a write role);
//   - retract: its author, a lead of its team, or an admin;
//   - mark helped: any reader who sees it, except its author (a count
//     of readers helped by a story means other readers), once per reader.
//
// A retracted story takes no more commands: each answers a conflict.
//
// The author is named by the actor of the command (Meta.Actor, which the
// HTTP layer sets to the principal's name), and recorded as the actor of
// the story.published event.

// StoryCommand names a command on an existing story. Its value is the
// last segment of the command's route (POST /v1/stories/{id}/<value>),
// except for StoryRevise, which is a PATCH of the story itself.
type StoryCommand string

// The commands on an existing story.
const (
	StoryRevise  StoryCommand = "revise"
	StoryRetract StoryCommand = "retract"
	StoryHelped  StoryCommand = "helped"
)

// StoryCommands lists every command on an existing story.
var StoryCommands = []StoryCommand{StoryRevise, StoryRetract, StoryHelped}

// Story is the state of one failure story, as the aggregate folds it from
// its events and as the read side folds it with the same Apply.
type Story struct {
	ID            string   `json:"id"`
	Team          string   `json:"team"`
	Title         string   `json:"title"`
	Tried         string   `json:"tried"`
	WentWrong     string   `json:"went_wrong"`
	Learned       string   `json:"learned"`
	Differently   string   `json:"differently"`
	ExperimentIDs []string `json:"experiment_ids"`
	Visibility    string   `json:"visibility"`
	// Author is the actor who published the story.
	Author string `json:"author"`
	// AuthorRole is the author's role when they published: it stays what
	// it was, so a story told by a lead shows it forever.
	AuthorRole  Role       `json:"author_role"`
	PublishedAt time.Time  `json:"published_at"`
	RevisedAt   *time.Time `json:"revised_at,omitempty"`
	// Retracted stories leave pages and counts; their events stay.
	Retracted     bool       `json:"retracted"`
	RetractedAt   *time.Time `json:"retracted_at,omitempty"`
	RetractReason string     `json:"retract_reason,omitempty"`
	// Helped counts the readers who marked the story "this helped me".
	Helped int `json:"helped"`
	// HelpedBy holds those readers, for the once-per-reader rule. It is
	// not served: which story helped whom is each reader's own business.
	HelpedBy map[string]bool `json:"-"`
	// Version counts the aggregate's events (marks included); it is the
	// resource's ETag.
	Version uint64 `json:"version"`
	// Position is the stream sequence of the aggregate's last event.
	Position uint64 `json:"position"`
}

// VisibleTo reports whether p may see the story: the rule of experiments,
// on the story's team and visibility. A nil principal is the unrestricted
// local user.
func (s *Story) VisibleTo(p *Principal) bool {
	return p.CanSee(s.Team, s.Visibility)
}

// HelpedActor reports whether actor has marked the story helpful.
func (s *Story) HelpedActor(actor string) bool { return s.HelpedBy[actor] }

// Permits returns nil when principal p, acting as actor, may send cmd to
// the story now, and otherwise the error the command fails with: not
// found when p may not see the story, forbidden when p may see it but not
// do this, conflict when the story was retracted. Marking a story that
// the actor marked already is permitted: the command changes nothing.
// The service refuses by it and pages can offer by it, so the two cannot
// disagree.
func (s *Story) Permits(p *Principal, actor string, cmd StoryCommand) error {
	if !s.VisibleTo(p) {
		return notFound("story", s.ID)
	}
	author := actor != "" && actor == s.Author
	writer := p.role() != RoleViewer
	switch cmd {
	case StoryRevise:
		if !writer || (!author && p.role() != RoleAdmin) {
			return forbidden("only the author of story %s or an admin may revise it", s.ID)
		}
	case StoryRetract:
		lead := p.role() == RoleLead && p.InTeam(s.Team)
		if !writer || (!author && !lead && p.role() != RoleAdmin) {
			return forbidden("only the author of story %s, a lead of team %s or an admin may retract it", s.ID, s.Team)
		}
	case StoryHelped:
		if author {
			return forbidden("the author of story %s cannot mark it as helpful: it counts the readers it helped", s.ID)
		}
	default:
		return fmt.Errorf("story %s: unknown command %q", s.ID, cmd)
	}
	if s.Retracted {
		return conflict("story %s was retracted: it takes no more commands", s.ID)
	}
	return nil
}

// CanPublishStory reports whether the principal may publish a story for
// team: a write role for a team it writes experiments for, or a lead (for
// whom stories are above all) for any team.
func (p *Principal) CanPublishStory(team string) bool {
	return p.role() == RoleLead || p.CanWriteExperiment(team)
}

// role is the principal's role; the unrestricted local user is an admin.
func (p *Principal) role() Role {
	if p == nil {
		return RoleAdmin
	}
	return p.Role
}
