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
// page or count. Every version a story's publication and revisions
// wrote is kept in story_versions (migration 0010), with the visibility
// and experiments it had: a story's earlier versions are shown to a
// reader who may see the story and may also see each version as it was.
// Events of aggregates the read model does not project (webhooks) are
// passed over, neither applied nor skipped.
//
// Skills are filtered by experiments.SkillKey, which learning_skills
// keeps beside each spelling (skill_key): the learnings library and the
// stories feed find "UX", " ux" and "Ux " alike.
//
// # Search
//
// Text search goes through an index of the read model's own (migration
// 0012): the projection writes, in the batch's transaction, a row per
// distinct term of each experiment's search document (title, hypothesis,
// summary and its learnings' texts, tokenized in Go) and of each learning
// (text and skills), with the term's weight there and the document's sort
// key, and replaces an experiment's rows whole when its text changes. A
// search reads its terms' rows in rank order and stops at the page
// (search_topk.go); search.go says what a search matches and how results
// rank, which is the same on both stores. The visibility rule and the
// filters apply to every candidate at query time, and a search reads on
// until the page fills with what the viewer may see. The experiments'
// documents (experiment_search) are also indexed by each store (FTS5 on
// SQLite, a tsvector with a GIN index on Postgres) for
// SimilarExperiments. A read store migrated with documents in it builds
// the term index at its next batch (read_model_backfill 'search_terms').
//
// # Metrics
//
// Every dashboard figure comes from tables the projection maintains in
// the batch's transaction, so that a read costs in proportion to the
// teams and periods it shows, not to history (migration 0004):
//
//   - figure_cells holds a row per month, team and visibility: each count
//     in the month of its own date, the day histograms of the medians,
//     and the skills named. A batch takes every changed experiment's old
//     contribution out and puts its new one in, so an outcome revision
//     moves an experiment between counts and a visibility revision moves
//     it, with its learnings, between cells. A viewer's figures are the
//     sums over the cells it may see.
//
//   - failure_feeds is the relation "this failure fed that innovation",
//     through builds_on at any depth, with, for each pair, the minimal
//     sets of teams whose confidential experiments its paths pass through
//     (requires; ” for a path through org experiments only). A viewer
//     who sees the failure sees the pair when one set is a subset of its
//     teams: the visibility rule above, without a walk per request. A
//     batch recomputes the rows of the failures upstream of what it
//     changed (links, edges, outcomes, visibility), walking downstream of
//     each in memory, and writes the failures whose rows differ.
//
//   - failure_figures summarizes each failure that fed something: the
//     first launch that every viewer of it sees and whether some viewer
//     sees an earlier one. The failures that fed for every viewer, with
//     that latency, are in the cells; the others (only those upstream of
//     confidential experiments) are in requires_cells (below).
//
//   - requires_cells (migration 0011) holds, per cell and set of teams,
//     what a viewer who sees the confidential experiments of every team
//     in the set adds to the cell: fed failures with their latency
//     histogram, failures with stories and leads' stories. A failure
//     whose figures depend on the viewer's teams is written there as a
//     signed sum over sets, by inclusion and exclusion: with its feeds'
//     sets R1…Rk in order of their first launch, "v's first launch is
//     that of Rj" is "v sees Rj" less, for each way to see one of
//     R1…Rj-1, "v sees the union" (launchTerms); a story item that asks
//     one of several sets counts "v sees one of them" the same way
//     (anyOf). Summed over the sets a viewer's teams hold, each failure
//     and story counts exactly as that viewer sees it; the part of the
//     empty set is in figure_cells. A batch takes a changed failure's
//     or item's old terms out and puts its new ones in, and rewrites the
//     months it changes, as it does figure_cells.
//
//   - figure_cells also counts, for the learning rate and openness
//     (migration 0008), the experiments that ended with at least one
//     learning and a decision, in the month they ended (concluded_at or
//     abandoned_at), and the failures with at least one learning, in the
//     month they concluded. An abandoned experiment has no decision
//     field: its abandonment counts as its decision, to stop. A learning
//     recorded after the end changes the experiment's learning count,
//     which moves it from "ended without learning" to "ended with
//     learning" in the cell of its end.
//
//   - figure_cells also counts, for openness in stories (migration
//     0009), the failures, in the month they concluded, that a story not
//     retracted is about, and the stories leads told, in the month
//     published. A viewer sees a story when it sees the story's team and
//     visibility and every experiment it is about, so a story asks for
//     the teams of the team-only among them. What asks no more than the
//     cell it counts in is in the cell; the rest is in story_figures,
//     with the teams it asks for, and in requires_cells. A batch recomputes the failures it changed or whose
//     stories it changed, the stories it changed, and both around an
//     experiment whose team or visibility it changed.
//
//   - skill_cells counts the learnings naming each skill per month
//     (recorded_at), team and visibility, skills compared by
//     experiments.SkillKey, split by the current outcome of the
//     learning's experiment: failed, succeeded, or other (inconclusive,
//     abandoned, not concluded yet). A batch moves the learnings of
//     every experiment whose outcome class or visibility it changed.
//
//   - team_skill_first keeps, per team, skill and visibility, the first
//     learning (by stream position) that named the skill. Within a team
//     a viewer sees either every experiment or the org ones, so the
//     earliest of the rows it may see is exactly its first learning of
//     the skill; whether the skill "first appeared after a failure" is
//     that learning's experiment's current outcome, joined at read time.
//     When a visibility revision moves the learning a row names, the
//     batch looks the row up again from the team's learnings of that
//     visibility, in stream order.
//
// Outcomes sums the cells of the whole months in range, and the rows of
// requires_cells whose teams the viewer sees, reading both in key order
// (through their keys' index, however many pages their rewritten months
// have left between vacuums); it counts the part of a month that a
// bound inside it cuts from that part's rows, and buckets months into
// quarters in Go. A read thus costs the cells it shows, not the
// failures or experiments in them. Activity names the teams and the
// first month of the report over all of history from the cells' keys,
// for the overview, which reads the report only of the months it shows. Each period has a row per team
// with activity and a total row whose Team is AllTeams ("*"); total rows
// run without gaps from the first period with activity to the last.
// FailureBacklog lists the failures and counts what each fed from
// failure_feeds. Skills reads skill_cells the same way, and the first
// learnings from team_skill_first.
//
// Cycle time and learning latency are medians of whole days: the number
// of calendar days (UTC) between the two dates, 0 on the same date and
// negative when the second date is earlier. Whole days let a cell keep an
// exact median as a histogram (days → count).
//
// A read store migrated with data in it has no figures yet: a row in
// figure_backfill says so, and the next batch computes them from the rows
// in its transaction. Likewise read_model_backfill (migration 0010) names
// the story versions, which the next batch folds from the history table's
// story events, and the skill keys, which it computes from the spellings;
// and (migration 0011) requires_cells, which the next batch fills from
// failure_figures, failure_feeds and story_figures as they stood before
// it, before it adds its own changes.
//
// The cells are keyed by month, which leaves room for figures as of a
// past date: those up to the end of March are the cells up to March.
package readmodel
