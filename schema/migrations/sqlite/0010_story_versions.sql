-- Every version of a failure story, and skills filtered by their key.

-- story_versions holds each version of each story, as the event that
-- wrote it left it: the publication is the first, each revision adds
-- one. The newest is the story as it is now; a story's page shows the
-- others as its earlier versions. A version keeps the visibility and the
-- experiments it had, so that a reader sees an earlier version only
-- when they may see what it was then, and a retracted story keeps its
-- versions, which no page shows. position is the stream position of the
-- event that wrote the version, which orders them and makes a replay
-- give the same rows whatever its batches.
CREATE TABLE story_versions (
    story_id       TEXT NOT NULL,
    position       INTEGER NOT NULL,
    team           TEXT NOT NULL,
    written_at     TIMESTAMP NOT NULL,
    written_by     TEXT NOT NULL,  -- the event's actor: the author, or who revised it
    title          TEXT NOT NULL,
    tried          TEXT NOT NULL,
    went_wrong     TEXT NOT NULL,
    learned        TEXT NOT NULL,
    differently    TEXT NOT NULL,
    experiment_ids TEXT NOT NULL,  -- JSON array, in the author's order
    visibility     TEXT NOT NULL,
    PRIMARY KEY (story_id, position)
);

-- A learning's skills are filtered by experiments.SkillKey, which the
-- projection writes beside each spelling: "UX", " ux" and "Ux " are one
-- skill.
ALTER TABLE learning_skills ADD COLUMN skill_key TEXT NOT NULL DEFAULT '';
CREATE INDEX learning_skills_key ON learning_skills (skill_key, learning_id);

-- read_model_backfill names what a read store migrated with data in it
-- has yet to fill: 'story_versions' from the history table's story
-- events, 'skill_keys' from the spellings. The projection's next batch
-- fills them in its transaction and deletes the rows; until then the
-- spellings stand for their keys as SQL folds them, close enough for
-- most (SkillKey folds case rune by rune and runs of space inside).
CREATE TABLE read_model_backfill (
    item TEXT PRIMARY KEY
);
UPDATE learning_skills SET skill_key = LOWER(TRIM(skill));
INSERT INTO read_model_backfill (item) SELECT 'story_versions' WHERE EXISTS (SELECT 1 FROM stories);
INSERT INTO read_model_backfill (item) SELECT 'skill_keys' WHERE EXISTS (SELECT 1 FROM learning_skills);
