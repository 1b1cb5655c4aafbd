-- Figures of what teams learn: the learning rate and openness on the
-- outcome dashboard, and the skills page. Like the figures of 0004, the
-- projection maintains them in each batch's transaction.

-- The learning rate's numerator: the experiments concluded with a
-- decision or abandoned (an abandonment is the decision to stop) that
-- have at least one learning, in the month they ended. Openness's: the
-- failures with at least one learning, in the month they concluded. A
-- learning recorded after the end moves its experiment into these.
ALTER TABLE figure_cells ADD COLUMN learned_and_decided BIGINT NOT NULL DEFAULT 0;
ALTER TABLE figure_cells ADD COLUMN failures_with_learnings BIGINT NOT NULL DEFAULT 0;

-- skill_cells counts, per month a learning was recorded in, its team,
-- its experiment's visibility and a skill (by experiments.SkillKey), the
-- learnings naming the skill, split by their experiment's current
-- outcome: failed, succeeded, or anything else (inconclusive, abandoned,
-- not yet concluded). A revised outcome or visibility moves them. A cell
-- with nothing in it is not stored.
CREATE TABLE skill_cells (
    month          TEXT NOT NULL,  -- YYYY-MM, UTC, of recorded_at
    team           TEXT NOT NULL,
    visibility     TEXT NOT NULL,
    skill_key      TEXT NOT NULL,
    from_failures  BIGINT NOT NULL,
    from_successes BIGINT NOT NULL,
    from_others    BIGINT NOT NULL,
    PRIMARY KEY (month, team, visibility, skill_key)
);

-- team_skill_first is, per team, skill and visibility of the experiments,
-- the first learning (by stream position) that named the skill, with the
-- skill as it was written there (spaces trimmed). A viewer sees the first
-- learning of the classes it may see, whose experiment's current outcome
-- says whether the skill first appeared after a failure.
CREATE TABLE team_skill_first (
    team          TEXT NOT NULL,
    skill_key     TEXT NOT NULL,
    visibility    TEXT NOT NULL,
    learning_id   TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    position      BIGINT NOT NULL,
    shown         TEXT NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (team, skill_key, visibility)
);

-- The figures of a store with data in it are built anew, with these,
-- by the projection's next batch (see figure_backfill in 0004).
DELETE FROM figure_cells;
DELETE FROM failure_feeds;
DELETE FROM failure_figures;
INSERT INTO figure_backfill (id) SELECT 1
WHERE EXISTS (SELECT 1 FROM experiments) AND NOT EXISTS (SELECT 1 FROM figure_backfill);
