-- Dashboard figures that the projection maintains in each batch's
-- transaction, so that a dashboard read sums a few rows per team and
-- month instead of recounting history. A read store that held data before
-- this migration has empty figures until `projector rebuild` refills them.

-- figure_counts holds every additive figure of a (team, month,
-- visibility) cell: one row per figure and detail. Counts have detail ''
-- (registered, started, concluded, succeeded, failed, inconclusive,
-- abandoned, outcome_revisions, learnings, failures_fed); the day
-- histograms of the medians have the whole number of days as detail
-- (cycle_days, latency_days); skills have the skill. Each count sits in
-- the month of its own date. A viewer's figure is the sum over the cells
-- it may see. Rows whose n falls to 0 are deleted, so that a replay gives
-- the same rows whatever its batches.
CREATE TABLE figure_counts (
    month      TEXT NOT NULL,  -- YYYY-MM, UTC
    team       TEXT NOT NULL,
    visibility TEXT NOT NULL,
    figure     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    n          BIGINT NOT NULL,
    PRIMARY KEY (month, team, visibility, figure, detail)
);
-- The rows a batch takes to 0, for the projection to delete them.
CREATE INDEX figure_counts_zero ON figure_counts (month) WHERE n = 0;

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

-- A dashboard range that starts or ends inside a month counts that month
-- from the experiments themselves, by date.
CREATE INDEX experiments_started_at ON experiments (started_at);
CREATE INDEX experiments_concluded_at ON experiments (concluded_at);
CREATE INDEX experiments_abandoned_at ON experiments (abandoned_at) WHERE abandoned_at IS NOT NULL;
CREATE INDEX learnings_recorded_at ON learnings (recorded_at);
