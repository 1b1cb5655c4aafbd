-- Full-text search. Each experiment has one search document (its title,
-- hypothesis, summary and the text of all its learnings) and each
-- learning one (its text and skills). The projection writes the
-- documents, tokenized and lowercased the same way for both read stores
-- (see internal/readmodel/search.go); FTS5 indexes them here, Postgres's
-- full text search in the Postgres migration.
--
-- doc_id is the stream sequence of the experiment's registration (of the
-- learning's event), so that a replay gives the same rows whatever its
-- batches. The FTS5 tables index the document tables as external
-- content, kept in step by triggers: the projection and a rebuild's swap
-- only ever write the document tables. The tokenizer keeps letters, marks
-- and decimal digits and separates on everything else, without stemming
-- or removing diacritics, as Postgres's 'simple' configuration does.
CREATE TABLE experiment_search (
    doc_id        INTEGER PRIMARY KEY,
    experiment_id TEXT NOT NULL UNIQUE,
    title         TEXT NOT NULL,
    hypothesis    TEXT NOT NULL,
    summary       TEXT NOT NULL,
    learnings     TEXT NOT NULL
);
CREATE VIRTUAL TABLE experiment_fts USING fts5(
    title, hypothesis, summary, learnings,
    content = 'experiment_search', content_rowid = 'doc_id',
    tokenize = "unicode61 remove_diacritics 0 categories 'L* M* Nd'"
);
CREATE TRIGGER experiment_search_insert AFTER INSERT ON experiment_search BEGIN
    INSERT INTO experiment_fts (rowid, title, hypothesis, summary, learnings)
    VALUES (new.doc_id, new.title, new.hypothesis, new.summary, new.learnings);
END;
CREATE TRIGGER experiment_search_delete AFTER DELETE ON experiment_search BEGIN
    INSERT INTO experiment_fts (experiment_fts, rowid, title, hypothesis, summary, learnings)
    VALUES ('delete', old.doc_id, old.title, old.hypothesis, old.summary, old.learnings);
END;
CREATE TRIGGER experiment_search_update AFTER UPDATE ON experiment_search BEGIN
    INSERT INTO experiment_fts (experiment_fts, rowid, title, hypothesis, summary, learnings)
    VALUES ('delete', old.doc_id, old.title, old.hypothesis, old.summary, old.learnings);
    INSERT INTO experiment_fts (rowid, title, hypothesis, summary, learnings)
    VALUES (new.doc_id, new.title, new.hypothesis, new.summary, new.learnings);
END;

CREATE TABLE learning_search (
    doc_id      INTEGER PRIMARY KEY,
    learning_id TEXT NOT NULL UNIQUE,
    text        TEXT NOT NULL,
    skills      TEXT NOT NULL
);
CREATE VIRTUAL TABLE learning_fts USING fts5(
    text, skills,
    content = 'learning_search', content_rowid = 'doc_id',
    tokenize = "unicode61 remove_diacritics 0 categories 'L* M* Nd'"
);
CREATE TRIGGER learning_search_insert AFTER INSERT ON learning_search BEGIN
    INSERT INTO learning_fts (rowid, text, skills) VALUES (new.doc_id, new.text, new.skills);
END;
CREATE TRIGGER learning_search_delete AFTER DELETE ON learning_search BEGIN
    INSERT INTO learning_fts (learning_fts, rowid, text, skills) VALUES ('delete', old.doc_id, old.text, old.skills);
END;
CREATE TRIGGER learning_search_update AFTER UPDATE ON learning_search BEGIN
    INSERT INTO learning_fts (learning_fts, rowid, text, skills) VALUES ('delete', old.doc_id, old.text, old.skills);
    INSERT INTO learning_fts (rowid, text, skills) VALUES (new.doc_id, new.text, new.skills);
END;

-- Backfill what the projection wrote before this migration. The text goes
-- in as it is, cut to the lengths the projection keeps: the tokenizer
-- splits and folds it as the projection's own tokenizer would.
INSERT INTO experiment_search (doc_id, experiment_id, title, hypothesis, summary, learnings)
SELECT (SELECT min(h.position) FROM history h WHERE h.aggregate_id = e.id AND h.aggregate = 'experiment'),
       e.id, substr(e.title, 1, 16384), substr(e.hypothesis, 1, 16384), substr(e.summary, 1, 16384),
       substr(COALESCE((SELECT string_agg(l.text, ' ' ORDER BY l.position) FROM learnings l WHERE l.experiment_id = e.id), ''), 1, 65536)
FROM experiments e;
INSERT INTO learning_search (doc_id, learning_id, text, skills)
SELECT l.position, l.id, substr(l.text, 1, 16384), substr(l.skills, 1, 4096) FROM learnings l;
