-- Read models of failforward. Everything here can be rebuilt from the
-- TRACKER stream; nothing here is the system of record.

-- The projector's position: the stream sequence of the last event applied.
-- It is written in the same transaction as the rows it produced.
CREATE TABLE projector_checkpoint (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position INTEGER  NOT NULL
);
INSERT INTO projector_checkpoint (id, position) VALUES (1, 0);

-- Events the projector could not apply, kept so that a skip is never silent.
CREATE TABLE projector_skipped (
    position   INTEGER PRIMARY KEY,
    event_id   TEXT NOT NULL,
    event_type TEXT NOT NULL,
    reason     TEXT NOT NULL
);

CREATE TABLE experiments (
    id                TEXT PRIMARY KEY,
    team              TEXT NOT NULL,
    title             TEXT NOT NULL,
    kind              TEXT NOT NULL,
    hypothesis        TEXT NOT NULL,
    success_metric    TEXT NOT NULL,
    success_criteria  TEXT NOT NULL,
    owner             TEXT NOT NULL,
    tags              TEXT NOT NULL,  -- JSON array
    builds_on         TEXT NOT NULL,  -- JSON array
    visibility        TEXT NOT NULL,
    status            TEXT NOT NULL,
    outcome           TEXT NOT NULL,  -- '' until concluded
    decision          TEXT NOT NULL,
    summary           TEXT NOT NULL,
    observed          TEXT NOT NULL,
    failure_reasons   TEXT NOT NULL,  -- JSON array
    abandon_reason    TEXT NOT NULL,
    cost_person_days  REAL NOT NULL,
    cost_spend        REAL NOT NULL,
    outcome_revisions INTEGER NOT NULL,
    learning_count    INTEGER NOT NULL,
    registered_at     TIMESTAMP NOT NULL,
    started_at        TIMESTAMP,
    concluded_at      TIMESTAMP,
    abandoned_at      TIMESTAMP,
    -- Calendar months (YYYY-MM, UTC) of the dates above, so that dashboards
    -- bucket with plain GROUP BY on both read stores.
    registered_month  TEXT NOT NULL,
    started_month     TEXT NOT NULL,
    concluded_month   TEXT NOT NULL,
    abandoned_month   TEXT NOT NULL,
    version           INTEGER NOT NULL, -- events in the aggregate
    position          INTEGER NOT NULL  -- stream sequence of its last event
);
CREATE INDEX experiments_team_status ON experiments (team, status);
CREATE INDEX experiments_concluded ON experiments (team, concluded_month);
CREATE INDEX experiments_registered ON experiments (registered_at, id);

CREATE TABLE experiment_tags (
    experiment_id TEXT NOT NULL,
    tag           TEXT NOT NULL,
    PRIMARY KEY (tag, experiment_id)
);

-- One row per builds_on edge: experiment_id iterates on builds_on_id.
CREATE TABLE experiment_edges (
    experiment_id TEXT NOT NULL,
    builds_on_id  TEXT NOT NULL,
    PRIMARY KEY (experiment_id, builds_on_id)
);
CREATE INDEX experiment_edges_upstream ON experiment_edges (builds_on_id);

CREATE TABLE learnings (
    id             TEXT PRIMARY KEY,
    experiment_id  TEXT NOT NULL,
    team           TEXT NOT NULL,
    text           TEXT NOT NULL,
    skills         TEXT NOT NULL,  -- JSON array
    recorded_at    TIMESTAMP NOT NULL,
    recorded_month TEXT NOT NULL,
    position       INTEGER NOT NULL
);
CREATE INDEX learnings_experiment ON learnings (experiment_id, position);
CREATE INDEX learnings_team ON learnings (team, recorded_month);

CREATE TABLE learning_skills (
    learning_id TEXT NOT NULL,
    skill       TEXT NOT NULL,
    PRIMARY KEY (skill, learning_id)
);

CREATE TABLE innovations (
    id          TEXT PRIMARY KEY,
    team        TEXT NOT NULL,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    launched_at TIMESTAMP NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    version     INTEGER NOT NULL,
    position    INTEGER NOT NULL
);
CREATE INDEX innovations_team ON innovations (team, launched_at);

-- Links are kept when undone (active = false) so that the row set is the
-- same whatever order a batch folds them in.
CREATE TABLE innovation_links (
    innovation_id TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    note          TEXT NOT NULL,
    active        INTEGER NOT NULL,
    linked_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (innovation_id, experiment_id)
);
CREATE INDEX innovation_links_experiment ON innovation_links (experiment_id);

-- Every event of every aggregate, for history pages.
CREATE TABLE history (
    position     INTEGER PRIMARY KEY,
    aggregate    TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    team         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    occurred_at  TIMESTAMP NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX history_aggregate ON history (aggregate_id, position);
