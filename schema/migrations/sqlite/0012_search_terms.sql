-- Ranked text search by its own inverted index: a row per term of each
-- search document (experiment_search, learning_search), with the term's
-- weight in that document and the document's sort key, so that a search
-- reads each of its terms' rows best first, in index order, and stops as
-- soon as the page is known (see internal/readmodel/search.go). weight is
-- the sum, over the document's fields, of the field's weight times the
-- term's occurrences in it: title 10, hypothesis 4, summary 2, learnings
-- 1 for an experiment; text 10, skills 4 for a learning. sort_key breaks
-- ties, newest first: an experiment's registered_at in microseconds since
-- 1970 (UTC), a learning's stream position. Terms and ids compare byte
-- by byte (BINARY), as on Postgres.
CREATE TABLE experiment_terms (
    experiment_id TEXT NOT NULL,
    term          TEXT NOT NULL,
    weight        INTEGER NOT NULL,
    sort_key      INTEGER NOT NULL,
    PRIMARY KEY (experiment_id, term)
) WITHOUT ROWID;
CREATE INDEX experiment_terms_rank ON experiment_terms (term, weight, sort_key, experiment_id);

CREATE TABLE learning_terms (
    learning_id TEXT NOT NULL,
    term        TEXT NOT NULL,
    weight      INTEGER NOT NULL,
    sort_key    INTEGER NOT NULL,
    PRIMARY KEY (learning_id, term)
) WITHOUT ROWID;
CREATE INDEX learning_terms_rank ON learning_terms (term, weight, sort_key, learning_id);

-- A read store migrated with search documents in it: the projection's
-- next batch writes the terms of every experiment's document and of
-- every learning (read_model_backfill, migration 0010).
INSERT INTO read_model_backfill (item) SELECT 'search_terms'
WHERE EXISTS (SELECT 1 FROM experiment_search) OR EXISTS (SELECT 1 FROM learnings);

-- The learnings library searches learning_terms alone: its documents
-- and their full-text index (migration 0005) have no reader left.
DROP TRIGGER learning_search_insert;
DROP TRIGGER learning_search_delete;
DROP TRIGGER learning_search_update;
DROP TABLE learning_fts;
DROP TABLE learning_search;
