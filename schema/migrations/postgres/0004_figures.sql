-- Dashboard figures that the projection maintains in each batch's
-- transaction, so that a dashboard read sums a few rows per team and
-- month instead of recounting history.

-- figure_cells holds the figures of one (month, team, visibility) cell,
-- each count in the month of its own date. cycle_days and latency_days
-- are histograms of whole days, from which the medians are exact:
-- "days:count" pairs ordered by days, separated by spaces. skills counts
-- the learnings naming each skill, as a JSON object. A viewer's figures
-- are the sums over the cells it may see. A batch rewrites the months it
-- changes; a cell with nothing in it is not stored, so that a replay
-- gives the same rows whatever its batches.
CREATE TABLE figure_cells (
    month             TEXT NOT NULL,  -- YYYY-MM, UTC
    team              TEXT NOT NULL,
    visibility        TEXT NOT NULL,
    registered        BIGINT NOT NULL,
    started           BIGINT NOT NULL,
    concluded         BIGINT NOT NULL,
    succeeded         BIGINT NOT NULL,
    failed            BIGINT NOT NULL,
    inconclusive      BIGINT NOT NULL,
    abandoned         BIGINT NOT NULL,
    outcome_revisions BIGINT NOT NULL,
    learnings         BIGINT NOT NULL,
    failures_fed      BIGINT NOT NULL,  -- those that fed whatever the viewer
    cycle_days        TEXT NOT NULL,
    latency_days      TEXT NOT NULL,  -- of the failures_fed
    skills            TEXT NOT NULL,
    PRIMARY KEY (month, team, visibility)
);

-- failure_feeds is the transitive relation "this failure fed that
-- innovation": the innovation links the failure or an experiment built on
-- it, at any depth. requires is a minimal set of the teams of the
-- confidential (visibility team) experiments a path passes through, the
-- failure itself left out: sorted, comma-separated, '' for a path through
-- org experiments only. A viewer sees the pair when it sees the failure
-- and one of the pair's requires is a subset of its teams. Only minimal
-- sets are kept.
CREATE TABLE failure_feeds (
    failure_id    TEXT NOT NULL,
    innovation_id TEXT NOT NULL,
    requires      TEXT NOT NULL,
    launched_at   TIMESTAMPTZ NOT NULL,  -- the innovation's, which never changes
    PRIMARY KEY (failure_id, innovation_id, requires)
);

-- failure_figures has one row per failure with at least one failure_feeds
-- row. open_launched_at is the first launch among its '' rows, which
-- every viewer who sees the failure sees. When that is also its first
-- launch overall, the failure counts as fed, with that latency, in the
-- cells (depends is false); otherwise what a viewer sees depends on its
-- teams, and the query resolves it from the failure's failure_feeds rows.
CREATE TABLE failure_figures (
    failure_id       TEXT PRIMARY KEY,
    team             TEXT NOT NULL,
    month            TEXT NOT NULL,  -- of concluded_at
    visibility       TEXT NOT NULL,
    concluded_at     TIMESTAMPTZ NOT NULL,
    open_launched_at TIMESTAMPTZ,
    depends          BOOLEAN NOT NULL
);
CREATE INDEX failure_figures_month ON failure_figures (month, team);
CREATE INDEX failure_figures_depends ON failure_figures (month) WHERE depends;

-- figure_backfill has a row while the tables above have yet to be built
-- from the rows: in a read store migrated with experiments in it. The
-- projection's next batch then computes them, in its transaction, and
-- deletes the row; from there on it keeps them up to date.
CREATE TABLE figure_backfill (
    id INTEGER PRIMARY KEY CHECK (id = 1)
);
INSERT INTO figure_backfill (id) SELECT 1 WHERE EXISTS (SELECT 1 FROM experiments);

-- A dashboard range that starts or ends inside a month counts that month
-- from the experiments themselves, by date.
CREATE INDEX experiments_started_at ON experiments (started_at);
CREATE INDEX experiments_concluded_at ON experiments (concluded_at);
CREATE INDEX experiments_abandoned_at ON experiments (abandoned_at) WHERE abandoned_at IS NOT NULL;
CREATE INDEX learnings_recorded_at ON learnings (recorded_at);
