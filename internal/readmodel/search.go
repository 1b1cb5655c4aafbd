package readmodel

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readstore"
)

// Text search, the same on both read stores.
//
// Tokens: a token is a run of letters, combining marks and decimal digits;
// everything else separates tokens. Tokens are lowercased, never stemmed,
// and keep their diacritics; a token longer than maxTermBytes is dropped.
// The projection writes search documents already tokenized this way (the
// tokens joined by single spaces), and search text is tokenized the same
// way in Go, so that neither store's own parser decides what a word is:
// on SQLite FTS5's unicode61 tokenizer (categories L* M* Nd, diacritics
// kept) and on Postgres the 'simple' configuration then both find exactly
// these tokens.
//
// Queries: every term of a search must match (AND), anywhere in the
// document; the last term also matches as a prefix when it has at least
// minPrefixRunes characters, so that a search finds what is being typed.
// A search whose text holds no token (only punctuation, say) does not
// filter at all. SimilarExperiments ORs its terms instead and drops stop
// words, since a free text is mostly words that every experiment has;
// its terms go to the store's full-text index quoted (FTS5 strings,
// tsquery lexemes), so that no text is ever a syntax error.
//
// Matching and ranking go through an index of our own, the same on both
// stores (migration 0012, search_terms.go): a row per distinct term of
// each document, with the term's weight in the document and the
// document's sort key. The weight is the sum, over the fields, of the
// term's occurrences in the field times the field's weight: title 10,
// hypothesis 4, summary 2, learnings 1 (a learning's text 10, its skills
// 4). A document's score for a search is the sum, over the search's
// terms, of the term's weight in it; for the last term, when a prefix,
// the greatest weight of the words it stands for (at most maxPrefixTerms,
// the first in byte order). Results go best score first, ties to the
// newest registered (newest recorded), then the greater id. Scores are
// integers computed from the documents alone, so both stores give the
// same results in the same order. This replaced bm25 on SQLite and
// ts_rank on Postgres, which ranked every match before returning a page:
// the index's rows of a term are read in rank order, and a top-k
// (search_topk.go) stops as soon as the page is known, however many
// documents match. A page of experiments continues by a cursor of the
// last one's (score, registered_at, id).
//
// SimilarExperiments, which ORs its terms, still ranks by the stores'
// full-text indexes (bm25 on SQLite, ts_rank on Postgres, weighted the
// same way), whose scores, and so the order of close results, differ.

// Bounds of the text that is indexed and searched.
const (
	// maxTermBytes drops longer tokens on both stores: Postgres refuses
	// lexemes over 2,047 bytes, and no one searches for such a word.
	maxTermBytes = 255
	// maxTerms bounds the terms of one search; later ones are ignored.
	maxTerms = 32
	// minPrefixRunes is the shortest last term that matches as a prefix:
	// a one-letter prefix matches most documents and ranks them all.
	minPrefixRunes = 2
	// The most characters of each field that a search document holds,
	// which keeps a Postgres tsvector well under its 1 MB limit. The
	// migrations cut backfilled text to the same lengths.
	maxFieldRunes     = 16384
	maxLearningsRunes = 65536
	maxSkillsRunes    = 4096
)

// tokens returns the tokens of s, lowercased, in order.
func tokens(s string) []string {
	var out []string
	for tok := range strings.FieldsFuncSeq(s, isSeparator) {
		// Measured lowercased, as stored: a few letters grow when
		// lowercased, and a term cut on its length before would be
		// kept once and dropped when its document is read again.
		if tok = strings.ToLower(tok); len(tok) <= maxTermBytes {
			out = append(out, tok)
		}
	}
	return out
}

func isSeparator(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r)
}

// searchText is the text of one field of a search document: its tokens
// joined by spaces, cut to about maxRunes characters at a token boundary.
func searchText(s string, maxRunes int) string {
	var sb strings.Builder
	runes := 0
	for _, tok := range tokens(s) {
		n := utf8.RuneCountInString(tok)
		if runes+n+1 > maxRunes {
			break
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(tok)
		runes += n + 1
	}
	return sb.String()
}

// textQuery is a parsed search text.
type textQuery struct {
	terms []string
	// any ORs the terms instead of ANDing them.
	any bool
	// prefix makes the last term match as a prefix too.
	prefix bool
}

// allTerms parses a search that every term must match.
func allTerms(text string) textQuery {
	terms := distinctTerms(tokens(text), func(string) bool { return true })
	q := textQuery{terms: terms}
	if len(terms) > 0 {
		q.prefix = utf8.RuneCountInString(terms[len(terms)-1]) >= minPrefixRunes
	}
	return q
}

// anyTerms parses a free text to find documents like it: any term may
// match, and stop words and one-character terms are left out.
func anyTerms(text string) textQuery {
	return textQuery{any: true, terms: distinctTerms(tokens(text), func(t string) bool {
		return utf8.RuneCountInString(t) > 1 && !stopWords[t]
	})}
}

// distinctTerms keeps the first maxTerms distinct terms that keep accepts.
func distinctTerms(toks []string, keep func(string) bool) []string {
	var out []string
	for _, t := range toks {
		if len(out) == maxTerms {
			break
		}
		if keep(t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// stopWords are English words too common to tell experiments apart.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for w := range strings.FieldsSeq(`about after all also an and any are as at be because been before but by can
		could did do does doing for from had has have how if in into is it its more most much no not of on once only or
		other our out over same should so some such than that the their them then there these they this those through to
		too under until up very was we were what when where which while who why will with would you your`) {
		m[w] = true
	}
	return m
}()

// fts5 renders q as an FTS5 query: every term a string, which FTS5 reads
// literally whatever it holds, so that no text is an FTS5 syntax error.
func (q textQuery) fts5() string {
	parts := make([]string, len(q.terms))
	for i, t := range q.terms {
		parts[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	if q.prefix {
		parts[len(parts)-1] += "*"
	}
	if q.any {
		return strings.Join(parts, " OR ")
	}
	return strings.Join(parts, " ")
}

// tsquery renders q for to_tsquery: every term a quoted lexeme.
func (q textQuery) tsquery() string {
	esc := strings.NewReplacer(`\`, `\\`, `'`, `''`)
	parts := make([]string, len(q.terms))
	for i, t := range q.terms {
		parts[i] = "'" + esc.Replace(t) + "'"
	}
	if q.prefix {
		parts[len(parts)-1] += ":*"
	}
	if q.any {
		return strings.Join(parts, " | ")
	}
	return strings.Join(parts, " & ")
}

// matchCTE returns a WITH clause that defines m (id, score): the documents
// of kind that match q, with their score, higher is better, and its one
// argument. MATERIALIZED keeps the planner from running the match once
// per row of the outer query.
func matchCTE(d readstore.Dialect, kind searchKind, q textQuery) (string, any) {
	if d == readstore.Postgres {
		return "WITH m AS MATERIALIZED (SELECT s." + kind.key + " AS id, ts_rank(s.document, tq)::float8 AS score" +
			" FROM " + kind.table + " s, to_tsquery('simple', ?) tq WHERE s.document @@ tq) ", q.tsquery()
	}
	return "WITH m AS MATERIALIZED (SELECT s." + kind.key + " AS id, -bm25(" + kind.fts + ", " + kind.weights + ") AS score" +
		" FROM " + kind.fts + " JOIN " + kind.table + " s ON s.doc_id = " + kind.fts + ".rowid" +
		" WHERE " + kind.fts + " MATCH ?) ", q.fts5()
}

// searchKind names the tables of one kind of search document.
type searchKind struct {
	table, key, fts string
	// weights are the bm25 weights of the FTS5 columns, in the ratios of
	// ts_rank's default weights for the Postgres ones (A 1, B 0.4, C 0.2,
	// D 0.1).
	weights string
}

var experimentSearch = searchKind{table: "experiment_search", key: "experiment_id", fts: "experiment_fts", weights: "10, 4, 2, 1"}

// A ranked page's cursor is the score of its last item, then rankSep,
// then the list cursor of its (registered_at, id). Neither kind of cursor
// is taken for the other.
const rankSep = "~"

func encodeRankCursor(score int64, k pageKey) string {
	return strconv.FormatInt(score, 10) + rankSep + encodeCursor(k)
}

func decodeRankCursor(s string) (int64, pageKey, error) {
	text, rest, ok := strings.Cut(s, rankSep)
	if !ok {
		return 0, pageKey{}, fmt.Errorf("%w: not a cursor of a text search", ErrBadCursor)
	}
	score, err := strconv.ParseInt(text, 10, 64)
	if err != nil || score < 0 {
		return 0, pageKey{}, fmt.Errorf("%w: bad score %q", ErrBadCursor, text)
	}
	k, err := decodeCursor(rest)
	return score, k, err
}

// searchExperiments is ListExperiments for a filter with search terms:
// the matches that also meet where (conditions on e, with args), best
// first, paged by keyset on (score, registered_at, id), through the term
// index (search_topk.go). A page's cursor continues by rank; a score
// changes when its document does, so pages read while experiments are
// written may repeat or miss a result near a page boundary.
func (q *Queries) searchExperiments(ctx context.Context, v Viewer, f ExperimentFilter, tq textQuery, where []string, args []any) (ExperimentPage, error) {
	var after *rankKey
	if f.Cursor != "" {
		score, k, err := decodeRankCursor(f.Cursor)
		if err != nil {
			return ExperimentPage{}, fmt.Errorf("list experiments: %w", err)
		}
		after = &rankKey{score: score, sort: experimentSortKey(k.RegisteredAt), id: dbText(k.ID)}
	}
	limit := clampLimit(f.Limit)
	query := "SELECT " + prefixed("e", experimentColumns) + " FROM experiments e WHERE " + strings.Join(where, " AND ") + " AND e.id IN (%s)"
	load := func(ctx context.Context, ids []string) (map[string]experimentRow, error) {
		rows, err := selectIn[experimentRow](ctx, q.db, query, ids, args...)
		out := make(map[string]experimentRow, len(rows))
		for _, r := range rows {
			out[r.ID] = r
		}
		return out, err
	}
	hits, err := topK(ctx, q.db, experimentTerms, tq, after, limit+1, load)
	if err != nil {
		return ExperimentPage{}, fmt.Errorf("search experiments: %w", err)
	}
	page := ExperimentPage{Items: []experiments.Experiment{}}
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		page.NextCursor = encodeRankCursor(last.key.score, pageKey{RegisteredAt: last.row.RegisteredAt.UTC(), ID: last.row.ID})
	}
	rows := make([]experimentRow, len(hits))
	for i, h := range hits {
		rows[i] = h.row
	}
	items, err := q.renderExperiments(ctx, v, rows)
	if err != nil {
		return ExperimentPage{}, fmt.Errorf("search experiments: %w", err)
	}
	page.Items = items
	return page, nil
}

// SimilarExperiments returns up to limit experiments that v may see, most
// similar to text first: those whose search documents share the most
// (and the rarest, on SQLite) of its words, its title's above its
// hypothesis's, summary's and learnings'. Any word may match; stop words
// and one-letter words are ignored. A text with no other words has no
// similar experiments. limit is DefaultLimit when 0, at most MaxLimit.
func (q *Queries) SimilarExperiments(ctx context.Context, v Viewer, text string, limit int) ([]experiments.Experiment, error) {
	tq := anyTerms(text)
	if len(tq.terms) == 0 {
		return []experiments.Experiment{}, nil
	}
	cte, match := matchCTE(q.db.Dialect, experimentSearch, tq)
	vis, args := v.visible("e")
	query := cte + "SELECT " + prefixed("e", experimentColumns) + " FROM m JOIN experiments e ON e.id = m.id WHERE " + vis +
		" ORDER BY m.score DESC, e.registered_at DESC, e.id DESC LIMIT ?"
	var rows []experimentRow
	args = append(append([]any{match}, args...), clampLimit(limit))
	if err := q.db.SelectContext(ctx, &rows, q.db.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("similar experiments: %w", err)
	}
	out, err := q.renderExperiments(ctx, v, rows)
	if err != nil {
		return nil, fmt.Errorf("similar experiments: %w", err)
	}
	return out, nil
}
