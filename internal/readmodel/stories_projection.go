package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// The projection of failure stories: the stories table holds each story's
// state as experiments.Story.Apply folds it, story_experiments the
// experiments it is about, story_helped the readers who marked it
// helpful, once each, and story_versions every version its publication
// and revisions wrote (story_versions.go).

const storyColumns = `id, team, title, tried, went_wrong, learned, differently, experiment_ids, visibility,
	author, author_role, published_at, revised_at, retracted, retracted_at, retract_reason, helped, version, position`

var storyTables = struct{ stories, links, helped *tableSpec }{
	stories: newTableSpec("stories", columnList(storyColumns), "id"),
	links:   newTableSpec("story_experiments", []string{"story_id", "experiment_id"}, "story_id"),
	helped:  newTableSpec("story_helped", []string{"story_id", "actor", "position"}, ""),
}

// The load queries: each has one %s, for its IN list.
const (
	loadStoryRows    = "SELECT " + storyColumns + " FROM stories WHERE id IN (%s)"
	loadStoryHelpers = "SELECT story_id, actor FROM story_helped WHERE story_id IN (%s)"
)

type storyRow struct {
	ID            string     `db:"id"`
	Team          string     `db:"team"`
	Title         string     `db:"title"`
	Tried         string     `db:"tried"`
	WentWrong     string     `db:"went_wrong"`
	Learned       string     `db:"learned"`
	Differently   string     `db:"differently"`
	ExperimentIDs stringList `db:"experiment_ids"`
	Visibility    string     `db:"visibility"`
	Author        string     `db:"author"`
	AuthorRole    string     `db:"author_role"`
	PublishedAt   time.Time  `db:"published_at"`
	RevisedAt     *time.Time `db:"revised_at"`
	Retracted     bool       `db:"retracted"`
	RetractedAt   *time.Time `db:"retracted_at"`
	RetractReason string     `db:"retract_reason"`
	Helped        int        `db:"helped"`
	Version       uint64     `db:"version"`
	Position      uint64     `db:"position"`
}

// appendValues appends the row's values in storyColumns order.
func (r *storyRow) appendValues(args []any) []any {
	return append(args, dbText(r.ID), dbText(r.Team), dbText(r.Title), dbText(r.Tried), dbText(r.WentWrong),
		dbText(r.Learned), dbText(r.Differently), r.ExperimentIDs.text(), dbText(r.Visibility), dbText(r.Author),
		dbText(r.AuthorRole), r.PublishedAt, timeOrNil(r.RevisedAt), r.Retracted, timeOrNil(r.RetractedAt),
		dbText(r.RetractReason), int64(r.Helped), int64(r.Version), int64(r.Position))
}

// scanStory reads a row of storyColumns without reflection.
func scanStory(rows *sql.Rows) (storyRow, error) {
	var r storyRow
	var helped, version, position int64
	var revised, retracted sql.NullTime
	err := rows.Scan(&r.ID, &r.Team, &r.Title, &r.Tried, &r.WentWrong, &r.Learned, &r.Differently, &r.ExperimentIDs,
		&r.Visibility, &r.Author, &r.AuthorRole, &r.PublishedAt, &revised, &r.Retracted, &retracted, &r.RetractReason,
		&helped, &version, &position)
	r.Helped, r.Version, r.Position = int(helped), uint64(version), uint64(position)
	r.RevisedAt, r.RetractedAt = nullTimePtr(revised), nullTimePtr(retracted)
	r.PublishedAt = r.PublishedAt.UTC()
	return r, err
}

// story renders the row as the domain's state, with helpedBy as the
// readers who marked it (as many as the batch loaded: the fold needs
// them only to decide a new mark).
func (r *storyRow) story(helpedBy map[string]bool) experiments.Story {
	return experiments.Story{
		ID: r.ID, Team: r.Team, Title: r.Title, Tried: r.Tried, WentWrong: r.WentWrong, Learned: r.Learned,
		Differently: r.Differently, ExperimentIDs: nonNil(r.ExperimentIDs), Visibility: r.Visibility,
		Author: r.Author, AuthorRole: experiments.Role(r.AuthorRole), PublishedAt: r.PublishedAt.UTC(),
		RevisedAt: utcPtr(r.RevisedAt), Retracted: r.Retracted, RetractedAt: utcPtr(r.RetractedAt),
		RetractReason: r.RetractReason, Helped: r.Helped, HelpedBy: helpedBy, Version: r.Version, Position: r.Position,
	}
}

// setState makes the row hold s, as the domain folded it.
func (r *storyRow) setState(s *experiments.Story) {
	*r = storyRow{
		ID: s.ID, Team: s.Team, Title: s.Title, Tried: s.Tried, WentWrong: s.WentWrong, Learned: s.Learned,
		Differently: s.Differently, ExperimentIDs: s.ExperimentIDs, Visibility: s.Visibility, Author: s.Author,
		AuthorRole: string(s.AuthorRole), PublishedAt: dbTime(s.PublishedAt), RevisedAt: dbTimeOrNil(s.RevisedAt),
		Retracted: s.Retracted, RetractedAt: dbTimeOrNil(s.RetractedAt), RetractReason: s.RetractReason,
		Helped: s.Helped, Version: s.Version, Position: s.Position,
	}
}

func dbTimeOrNil(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return dbTimePtr(*t)
}

// storyBatch is the stories' part of a batch: the rows of the stories it
// touches, folded so far, and what to write back.
type storyBatch struct {
	rows     map[string]*storyRow
	stored   map[string]bool
	helpedBy map[string]map[string]bool // readers known to have marked each story
	dirty    map[string]bool
	relinked map[string]bool // stories whose experiment list the batch set
	// linkedBefore is the experiments of each stored story as loaded,
	// whose figures a new list or a retraction changes.
	linkedBefore map[string][]string
	helped       []any // new story_helped rows, as values
	versions     []any // new story_versions rows, as values
}

func newStoryBatch() *storyBatch {
	return &storyBatch{rows: map[string]*storyRow{}, stored: map[string]bool{}, helpedBy: map[string]map[string]bool{},
		dirty: map[string]bool{}, relinked: map[string]bool{}, linkedBefore: map[string][]string{}}
}

// apply folds one story event with Story.Apply and returns why it was
// skipped, or "" when it applied.
func (b *storyBatch) apply(ev *events.Recorded, payload any) string {
	id := ev.Subject
	row, known := b.rows[id]
	_, publication := payload.(*events.StoryPublishedV1)
	switch {
	case publication && known:
		return fmt.Sprintf("duplicate publication: story %s is already published", id)
	case !publication && !known:
		return fmt.Sprintf("unknown story %s: never published", id)
	case publication:
		row = &storyRow{}
		b.helpedBy[id] = map[string]bool{}
	}
	if b.helpedBy[id] == nil {
		b.helpedBy[id] = map[string]bool{}
	}
	s := row.story(b.helpedBy[id])
	before := s.Helped
	if err := s.Apply(ev, payload); err != nil {
		return err.Error()
	}
	if s.Helped > before {
		b.helped = append(b.helped, dbText(id), dbText(ev.Actor), int64(ev.Sequence))
	}
	rev, revision := payload.(*events.StoryRevisedV1)
	if publication || (revision && rev.ExperimentIDs != nil) {
		b.relinked[id] = true
	}
	if publication || revision {
		b.versions = appendVersion(b.versions, &s, ev)
	}
	row.setState(&s)
	b.rows[id] = row
	b.dirty[id] = true
	return ""
}

// loadStories reads the stored rows of the stories the batch touches,
// and the readers who marked those it marks.
func loadStories(ctx context.Context, tx *batchTx, decoded []decodedEvent, b *storyBatch) error {
	ids, marked := map[string]bool{}, map[string]bool{}
	for _, d := range decoded {
		if d.skip != "" || !strings.HasPrefix(d.name, events.AggregateStory+".") {
			continue
		}
		ids[d.ev.Subject] = true
		if d.name == events.StoryHelped {
			marked[d.ev.Subject] = true
		}
	}
	err := tx.queryIn(ctx, loadStoryRows, sortedKeys(ids), func(rows *sql.Rows) error {
		r, err := scanStory(rows)
		if err != nil {
			return err
		}
		b.rows[r.ID] = &r
		b.stored[r.ID] = true
		b.linkedBefore[r.ID] = slices.Clone(r.ExperimentIDs)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load stories: %w", err)
	}
	err = tx.queryIn(ctx, loadStoryHelpers, sortedKeys(marked), func(rows *sql.Rows) error {
		var story, actor string
		if err := rows.Scan(&story, &actor); err != nil {
			return err
		}
		if b.helpedBy[story] == nil {
			b.helpedBy[story] = map[string]bool{}
		}
		b.helpedBy[story][actor] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("load story helpers: %w", err)
	}
	return nil
}

// stories writes the story rows the batch changed, the experiment links
// of those whose list it set, and the new marks.
func (w *batchWriter) stories(ctx context.Context) error {
	sb := w.b.stories
	if err := replaceChanged(ctx, w, storyTables.stories, sb.dirty, sb.rows, sb.stored); err != nil {
		return err
	}
	w.rows = w.rows[:0]
	var stale []string
	for _, id := range sortedKeys(sb.relinked) {
		for _, x := range distinct(sb.rows[id].ExperimentIDs) {
			w.rows = append(w.rows, dbText(id), dbText(x))
		}
		if sb.stored[id] {
			stale = append(stale, id)
		}
	}
	if err := w.tx.replace(ctx, storyTables.links, stale, w.rows); err != nil {
		return err
	}
	return w.tx.insert(ctx, storyTables.helped, sb.helped)
}

// unprojected names the aggregates whose events the read model has no
// tables for: they are not its to apply, so they are passed over rather
// than recorded as skipped (which would fail a strict rebuild).
var unprojected = map[string]bool{events.AggregateWebhook: true}

// ignored reports whether an event of the type name is one of an
// aggregate in unprojected.
func ignored(name string) bool {
	aggregate, _, _ := strings.Cut(name, ".")
	return unprojected[aggregate]
}
