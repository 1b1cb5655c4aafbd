-- The outcome dashboard's figures that depend on the viewer's teams, in
-- cells, so that a read sums a few rows per team and month instead of a
-- row per failure (failure_feeds, story_figures).

-- requires_cells holds, per (month, team, visibility) cell and set of
-- teams (requires: sorted, comma separated, never ''), what a viewer who
-- sees the cell adds to it when it sees the confidential experiments of
-- every team in the set. The counts and the histogram are signed: a
-- failure whose first launch a viewer sees depends on the viewer's teams
-- is written as a sum over sets, by inclusion and exclusion, whose part
-- for the sets a viewer's teams hold is exactly the failure as that
-- viewer sees it. figure_cells keeps the part of the empty set. A cell
-- with nothing in it is not stored.
CREATE TABLE requires_cells (
    month                 TEXT NOT NULL,  -- YYYY-MM, UTC
    team                  TEXT NOT NULL,
    visibility            TEXT NOT NULL,
    requires              TEXT NOT NULL,
    failures_fed          BIGINT NOT NULL,
    failures_with_stories BIGINT NOT NULL,
    stories_by_leads      BIGINT NOT NULL,
    latency_days          TEXT NOT NULL,  -- "days:count" pairs, as in figure_cells
    PRIMARY KEY (month, team, visibility, requires)
);

-- A read store with figures in it has them per failure only: the
-- projection's next batch adds them up from failure_figures,
-- failure_feeds and story_figures, in its transaction (see
-- read_model_backfill in 0010).
INSERT INTO read_model_backfill (item) SELECT 'requires_cells'
WHERE EXISTS (SELECT 1 FROM failure_figures WHERE depends) OR EXISTS (SELECT 1 FROM story_figures WHERE requires <> '');
