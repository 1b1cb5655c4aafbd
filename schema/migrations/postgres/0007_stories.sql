-- Failure stories, as the projection folds them with the domain's
-- Story.Apply. A retracted story keeps its row, flagged, so that a
-- replay gives the same rows whatever its batches; the queries leave it
-- out of every page and count.
CREATE TABLE stories (
    id             TEXT PRIMARY KEY,
    team           TEXT NOT NULL,
    title          TEXT NOT NULL,
    tried          TEXT NOT NULL,
    went_wrong     TEXT NOT NULL,
    learned        TEXT NOT NULL,
    differently    TEXT NOT NULL,
    experiment_ids TEXT NOT NULL,  -- JSON array, in the author's order
    visibility     TEXT NOT NULL,
    author         TEXT NOT NULL,
    author_role    TEXT NOT NULL,  -- the author's role when they published
    published_at   TIMESTAMPTZ NOT NULL,
    revised_at     TIMESTAMPTZ,
    retracted      BOOLEAN NOT NULL,
    retracted_at   TIMESTAMPTZ,
    retract_reason TEXT NOT NULL,
    helped         INTEGER NOT NULL, -- readers who marked it "this helped me"
    version        BIGINT NOT NULL,
    position       BIGINT NOT NULL
);
CREATE INDEX stories_feed ON stories (published_at, id);
CREATE INDEX stories_team ON stories (team, published_at);

-- One row per experiment a story is about, for "stories about this
-- failure" and for hiding a story whose experiment a reader may not see.
CREATE TABLE story_experiments (
    story_id      TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    PRIMARY KEY (story_id, experiment_id)
);
CREATE INDEX story_experiments_experiment ON story_experiments (experiment_id);

-- The readers who marked a story helpful, once each: a page shows a
-- reader whether they did.
CREATE TABLE story_helped (
    story_id TEXT NOT NULL,
    actor    TEXT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (story_id, actor)
);
