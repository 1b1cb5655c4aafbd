package readmodel

import (
	"context"
	"fmt"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// Earlier versions of failure stories: story_versions keeps every
// version that a story's publication and revisions wrote, keyed by the
// position of the event that wrote it, with the story's text, its
// visibility and its experiments then. The newest is the story as it is;
// a story's page shows the others as its earlier versions, each to a
// reader who may see the story now and may also see the version as it
// was (its visibility, and every experiment it was about).

const storyVersionColumns = `story_id, position, team, written_at, written_by, title, tried, went_wrong, learned,
	differently, experiment_ids, visibility`

var storyVersionTable = newTableSpec("story_versions", columnList(storyVersionColumns), "")

// appendVersion appends the story_versions row of the version ev wrote,
// s being the story as ev left it.
func appendVersion(rows []any, s *experiments.Story, ev *events.Recorded) []any {
	return append(rows, dbText(s.ID), int64(ev.Sequence), dbText(s.Team), dbTime(ev.Time), dbText(ev.Actor),
		dbText(s.Title), dbText(s.Tried), dbText(s.WentWrong), dbText(s.Learned), dbText(s.Differently),
		stringList(s.ExperimentIDs).text(), dbText(s.Visibility))
}

// What read_model_backfill (migration 0010) names: the tables a read
// store migrated with data in it has yet to fill.
const (
	backfillStoryVersions = "story_versions"
	backfillSkillKeys     = "skill_keys"
)

// readBackfill returns what read_model_backfill says is left to fill.
func readBackfill(ctx context.Context, tx *batchTx) (map[string]bool, error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT item FROM read_model_backfill")
	if err != nil {
		return nil, fmt.Errorf("read backfill: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var item string
		if err := rows.Scan(&item); err != nil {
			return nil, fmt.Errorf("read backfill: %w", err)
		}
		out[item] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read backfill: %w", err)
	}
	return out, nil
}

// backfilled deletes item from read_model_backfill.
func backfilled(ctx context.Context, tx *batchTx, item string) error {
	if _, err := tx.tx.ExecContext(ctx, tx.tx.Rebind("DELETE FROM read_model_backfill WHERE item = ?"), item); err != nil {
		return fmt.Errorf("backfill %s: %w", item, err)
	}
	return nil
}

// storyVersions writes the versions the batch's stories gained. In a
// read store migrated with stories in it, it writes instead every
// version from the history table, the batch's included (the history
// step wrote them just before), as a replay would have.
func (w *batchWriter) storyVersions(ctx context.Context) error {
	if !w.backfill[backfillStoryVersions] {
		return w.tx.insert(ctx, storyVersionTable, w.b.stories.versions)
	}
	if _, err := w.tx.tx.ExecContext(ctx, "DELETE FROM story_versions"); err != nil {
		return fmt.Errorf("build story versions: %w", err)
	}
	rows, err := versionsFromHistory(ctx, w.tx)
	if err != nil {
		return fmt.Errorf("build story versions: %w", err)
	}
	if err := w.tx.insert(ctx, storyVersionTable, rows); err != nil {
		return err
	}
	return backfilled(ctx, w.tx, backfillStoryVersions)
}

// loadStoryHistory reads every event of every story, in stream order.
const loadStoryHistory = "SELECT h.position, h.aggregate_id, h.event_type, h.team, h.actor, h.occurred_at, h.data" +
	" FROM stories s JOIN history h ON h.aggregate_id = s.id AND h.aggregate = '" + events.AggregateStory + "'" +
	" ORDER BY h.position"

// versionsFromHistory folds the story events of the history table, which
// holds only the events the projection applied, with Story.Apply, and
// returns the story_versions rows of their publications and revisions.
func versionsFromHistory(ctx context.Context, tx *batchTx) ([]any, error) {
	rows, err := tx.tx.QueryContext(ctx, loadStoryHistory)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	stories := map[string]*experiments.Story{}
	var out []any
	for rows.Next() {
		var ev events.Recorded
		var pos int64
		var data string
		if err := rows.Scan(&pos, &ev.Subject, &ev.Type, &ev.Team, &ev.Actor, &ev.Time, &data); err != nil {
			return nil, err
		}
		ev.Sequence, ev.Time, ev.Data = uint64(pos), ev.Time.UTC(), []byte(data)
		_, payload, err := events.Payload(&ev.Envelope)
		if err != nil {
			continue // applied events decode; one that no longer does wrote no version
		}
		s := stories[ev.Subject]
		if s == nil {
			s = &experiments.Story{}
			stories[ev.Subject] = s
		}
		if s.Apply(&ev, payload) != nil {
			continue
		}
		switch payload.(type) {
		case *events.StoryPublishedV1, *events.StoryRevisedV1:
			out = appendVersion(out, s, &ev)
		}
	}
	return out, rows.Err()
}

// skillKeys fills learning_skills.skill_key, in a read store migrated
// with learnings in it, from each spelling: a few spellings of a few
// skills, an update each.
func (w *batchWriter) skillKeys(ctx context.Context) error {
	if !w.backfill[backfillSkillKeys] {
		return nil
	}
	rows, err := w.tx.tx.QueryContext(ctx, "SELECT DISTINCT skill FROM learning_skills")
	if err != nil {
		return fmt.Errorf("backfill skill keys: %w", err)
	}
	defer rows.Close()
	var spellings []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("backfill skill keys: %w", err)
		}
		spellings = append(spellings, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("backfill skill keys: %w", err)
	}
	rows.Close()
	update := w.tx.tx.Rebind("UPDATE learning_skills SET skill_key = ? WHERE skill = ? AND skill_key <> ?")
	for _, s := range spellings {
		key := dbText(experiments.SkillKey(s))
		if _, err := w.tx.tx.ExecContext(ctx, update, key, s, key); err != nil {
			return fmt.Errorf("backfill skill keys: %w", err)
		}
	}
	return backfilled(ctx, w.tx, backfillSkillKeys)
}

// StoryVersion is an earlier version of a story: what it said until a
// revision replaced it.
type StoryVersion struct {
	// Version counts the story's versions from 1, the story as published.
	Version int `json:"version"`
	// WrittenAt and WrittenBy are when and by whom the version was
	// written: published by its author, or revised by its author or an
	// admin.
	WrittenAt   time.Time `json:"written_at"`
	WrittenBy   string    `json:"written_by"`
	Title       string    `json:"title"`
	Tried       string    `json:"tried"`
	WentWrong   string    `json:"went_wrong"`
	Learned     string    `json:"learned"`
	Differently string    `json:"differently"`
}

// StoryDetail is a story with its earlier versions.
type StoryDetail struct {
	experiments.Story
	// Revisions are the earlier versions the viewer may see, oldest
	// first; none for a story never revised.
	Revisions []StoryVersion `json:"revisions"`
}

// StoryWithRevisions returns one story that v may see, as Story does,
// with the earlier versions v may see: those whose visibility then, on
// the story's team, and whose experiments then v may see too, so that a
// revision that widened a story does not show the text it had while
// narrower.
func (q *Queries) StoryWithRevisions(ctx context.Context, v Viewer, id string) (StoryDetail, error) {
	s, err := q.Story(ctx, v, id)
	if err != nil {
		return StoryDetail{}, err
	}
	revs, err := q.storyRevisions(ctx, v, &s)
	if err != nil {
		return StoryDetail{}, fmt.Errorf("load versions of story %s: %w", id, err)
	}
	return StoryDetail{Story: s, Revisions: revs}, nil
}

type storyVersionRow struct {
	Position      uint64     `db:"position"`
	WrittenAt     time.Time  `db:"written_at"`
	WrittenBy     string     `db:"written_by"`
	Title         string     `db:"title"`
	Tried         string     `db:"tried"`
	WentWrong     string     `db:"went_wrong"`
	Learned       string     `db:"learned"`
	Differently   string     `db:"differently"`
	ExperimentIDs stringList `db:"experiment_ids"`
	Visible       bool       `db:"visible"`
}

// storyRevisions reads the versions of s up to the event s was read at
// (a revision applied since is not one of its earlier versions), leaves
// out the newest, which is s, and those v may not see.
func (q *Queries) storyRevisions(ctx context.Context, v Viewer, s *experiments.Story) ([]StoryVersion, error) {
	vis, args := v.visible("sv")
	var rows []storyVersionRow
	err := q.db.SelectContext(ctx, &rows, q.db.Rebind("SELECT sv.position, sv.written_at, sv.written_by, sv.title, sv.tried,"+
		" sv.went_wrong, sv.learned, sv.differently, sv.experiment_ids, CASE WHEN "+vis+" THEN 1 ELSE 0 END AS visible"+
		" FROM story_versions sv WHERE sv.story_id = ? AND sv.position <= ? ORDER BY sv.position"),
		append(args, s.ID, int64(s.Position))...)
	if err != nil {
		return nil, err
	}
	if len(rows) > 0 {
		rows = rows[:len(rows)-1]
	}
	seen := map[string]bool{}
	if !v.All {
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ExperimentIDs...)
		}
		if seen, err = q.visibleIDs(ctx, v, ids); err != nil {
			return nil, err
		}
	}
	out := make([]StoryVersion, 0, len(rows))
	for i, r := range rows {
		if !r.Visible || !v.All && !allSeen(seen, r.ExperimentIDs) {
			continue
		}
		out = append(out, StoryVersion{Version: i + 1, WrittenAt: r.WrittenAt.UTC(), WrittenBy: r.WrittenBy, Title: r.Title,
			Tried: r.Tried, WentWrong: r.WentWrong, Learned: r.Learned, Differently: r.Differently})
	}
	return out, nil
}

func allSeen(seen map[string]bool, ids []string) bool {
	for _, id := range ids {
		if !seen[id] {
			return false
		}
	}
	return true
}

// StoryWithRevisions is Queries.StoryWithRevisions, retried.
func (r *Retrying) StoryWithRevisions(ctx context.Context, v Viewer, id string) (StoryDetail, error) {
	return retry(ctx, func() (StoryDetail, error) { return r.q.StoryWithRevisions(ctx, v, id) })
}
