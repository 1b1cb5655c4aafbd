-- Openness from failure stories, on the outcome dashboard: the failures
-- with at least one story about them, in the month they concluded, and
-- the stories leads told, in the month published. Like the figures of
-- 0004 and 0008, the projection maintains them in each batch's
-- transaction.

-- The cells count what every viewer who sees the cell sees: a failure
-- with a story whose own visibility and experiments ask no more of a
-- viewer than the failure does, a lead's story whose experiments ask no
-- more than the story does.
ALTER TABLE figure_cells ADD COLUMN failures_with_stories INTEGER NOT NULL DEFAULT 0;
ALTER TABLE figure_cells ADD COLUMN stories_by_leads INTEGER NOT NULL DEFAULT 0;

-- story_figures holds, per failure with a story and per lead's story
-- (item: "failure:" or "lead:" and its id), in the cell it counts in,
-- what a viewer must see besides the cell: requires is "" for those the
-- cells count, or the teams (sorted, comma separated) whose team-only
-- experiments or stories it takes; a failure has a row per set its
-- stories take, and counts for a viewer who meets one.
CREATE TABLE story_figures (
    item       TEXT NOT NULL,
    requires   TEXT NOT NULL,
    month      TEXT NOT NULL,  -- YYYY-MM, UTC
    team       TEXT NOT NULL,
    visibility TEXT NOT NULL,
    PRIMARY KEY (item, requires)
);
CREATE INDEX story_figures_month ON story_figures (month);

-- The figures of a store with data in it are built anew, with these,
-- by the projection's next batch (see figure_backfill in 0004).
DELETE FROM figure_cells;
DELETE FROM failure_feeds;
DELETE FROM failure_figures;
INSERT INTO figure_backfill (id) SELECT 1
WHERE (EXISTS (SELECT 1 FROM experiments) OR EXISTS (SELECT 1 FROM stories)) AND NOT EXISTS (SELECT 1 FROM figure_backfill);
