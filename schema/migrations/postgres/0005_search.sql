-- Full-text search. Each experiment has one search document (its title,
-- hypothesis, summary and the text of all its learnings) and each
-- learning one (its text and skills). The projection writes the
-- documents, tokenized and lowercased the same way for both read stores
-- (see internal/readmodel/search.go), so that the 'simple' configuration
-- (no stemming, no stop words, no unaccenting) finds here exactly what
-- FTS5 finds on SQLite. A generated tsvector column, weighted title >
-- hypothesis > summary > learnings for ts_rank, carries a GIN index.
--
-- doc_id is the stream sequence of the experiment's registration (of the
-- learning's event), as on SQLite, where FTS5 needs an integer key.
CREATE TABLE experiment_search (
    doc_id        BIGINT NOT NULL,
    experiment_id TEXT PRIMARY KEY,
    title         TEXT NOT NULL,
    hypothesis    TEXT NOT NULL,
    summary       TEXT NOT NULL,
    learnings     TEXT NOT NULL,
    document      tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, title), 'A') ||
        setweight(to_tsvector('simple'::regconfig, hypothesis), 'B') ||
        setweight(to_tsvector('simple'::regconfig, summary), 'C') ||
        setweight(to_tsvector('simple'::regconfig, learnings), 'D')) STORED
);
CREATE INDEX experiment_search_document ON experiment_search USING GIN (document);

CREATE TABLE learning_search (
    doc_id      BIGINT NOT NULL,
    learning_id TEXT PRIMARY KEY,
    text        TEXT NOT NULL,
    skills      TEXT NOT NULL,
    document    tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, text), 'A') ||
        setweight(to_tsvector('simple'::regconfig, skills), 'B')) STORED
);
CREATE INDEX learning_search_document ON learning_search USING GIN (document);

-- Backfill what the projection wrote before this migration, tokenized
-- here as the projection does it: lowercased, every run of characters
-- other than letters and digits made one space (the projection's
-- tokenizer also keeps combining marks and drops terms over 255 bytes),
-- cut to the lengths the projection keeps.
INSERT INTO experiment_search (doc_id, experiment_id, title, hypothesis, summary, learnings)
SELECT (SELECT min(h.position) FROM history h WHERE h.aggregate_id = e.id AND h.aggregate = 'experiment'),
       e.id,
       lower(regexp_replace(left(e.title, 16384), '[^[:alnum:]]+', ' ', 'g')),
       lower(regexp_replace(left(e.hypothesis, 16384), '[^[:alnum:]]+', ' ', 'g')),
       lower(regexp_replace(left(e.summary, 16384), '[^[:alnum:]]+', ' ', 'g')),
       lower(regexp_replace(left(COALESCE((SELECT string_agg(l.text, ' ' ORDER BY l.position)
                                           FROM learnings l WHERE l.experiment_id = e.id), ''), 65536),
                            '[^[:alnum:]]+', ' ', 'g'))
FROM experiments e;
INSERT INTO learning_search (doc_id, learning_id, text, skills)
SELECT l.position, l.id,
       lower(regexp_replace(left(l.text, 16384), '[^[:alnum:]]+', ' ', 'g')),
       lower(regexp_replace(left(l.skills, 4096), '[^[:alnum:]]+', ' ', 'g'))
FROM learnings l;
