// Package readmodel is failforward's read side: the projection that folds
// the event stream into the read-model tables, and the queries and
// dashboard metrics that the API serves from them.
//
// # Projection
//
// The projection is written once for both read stores. It applies events
// in batches with set-based SQL: it reads the current rows of every
// aggregate a batch touches (one SELECT … WHERE id IN (…) per table),
// folds the events onto them in memory in stream order, and writes each
// table back by deleting the stored version of the rows the batch changed
// (one DELETE … WHERE id IN (…)) and inserting every changed or new row:
// multi-row INSERTs on SQLite, COPY on Postgres. Only the stream order
// decides the result, so a replay gives the same rows whatever the batch
// boundaries are. statements.go explains what makes this fast.
//
// An event that cannot be applied changes nothing, not even its
// aggregate's version or the history table; the caller records it in
// projector_skipped. Times are stored in UTC, cut to whole microseconds
// (Postgres's precision), so both stores hold identical values.
//
// # Visibility
//
// Every query takes a Viewer. An experiment with visibility "team" that
// the viewer may not see is treated as if it did not exist: it is left
// out of lists, counts and learnings, answers experiments.ErrNotFound by id, its id
// is dropped from other experiments' builds_on and from innovations'
// links and histories, and lineage walks do not pass through it, so an
// experiment reached only through a hidden one is not in a lineage either
// and does not count as having fed an innovation. The same rule serves
// the failure yield, learning latency and the failure backlog, so that a
// viewer's figures agree with the lineages the viewer can open.
//
// # Stories
//
// Failure stories are folded with the domain's Story.Apply into the
// stories table, with their experiments and the readers who marked them
// in tables of their own. A story is visible as an experiment is, on its
// own team and visibility, and only when the viewer may also see every
// experiment it is about; a retracted story keeps its row and is in no
// page or count. Events of aggregates the read model does not project
// (webhooks) are passed over, neither applied nor skipped.
//
// # Search
//
// Text search goes through an index on each store: the projection writes
// a search document per experiment (title, hypothesis, summary and its
// learnings' texts) and per learning (text and skills) in the batch's
// transaction, tokenized in Go, and the store indexes it (FTS5 on SQLite,
// a tsvector with a GIN index on Postgres). search.go says what a search
// matches, which is the same on both stores, and how results rank; the
// visibility rule applies to every result at query time.
//
// # Metrics
//
// Outcomes counts with GROUP BY over the month columns the projection
// stores, buckets months into quarters in Go, and computes medians and
// the failure walks in Go. Each period has a row per team with activity
// and a total row whose Team is AllTeams ("*"); total rows run without
// gaps from the first period with activity to the last.
package readmodel
