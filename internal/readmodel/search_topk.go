package readmodel

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/failforward/failforward/internal/readstore"
)

// The top-k search over the term index (search_terms.go): a threshold
// algorithm. Each term of a search (a prefix: each word it stands for)
// has its rows read best first, in index order, a few at a time; a
// document seen in one term's rows has its weights for the other terms
// looked up by key, and, when it has every term, is checked against the
// visibility rule and the filters. The search stops when the k-th best
// document kept outranks any document not seen yet: one whose weight is
// at most the last weight read in every term's rows, so whose score is at
// most their sum. What is read grows with the page and with how many of
// the best matches the viewer may not see or the filters drop, not with
// the number of matches.

// termIndex names the index table of one kind of search document.
type termIndex struct{ table, key string }

var (
	experimentTerms = termIndex{table: "experiment_terms", key: "experiment_id"}
	learningTerms   = termIndex{table: "learning_terms", key: "learning_id"}
)

// Bounds of a top-k search.
const (
	// maxPrefixTerms bounds the words a prefix stands for: the first ones
	// in byte order.
	maxPrefixTerms = 64
	// maxRead bounds the rows read of one term at a time.
	maxRead = 2048
)

// rankKey orders the results of a search: higher score first, then
// higher sort key (newer), then higher id.
type rankKey struct {
	score, sort int64
	id          string
}

func (a rankKey) compare(b rankKey) int {
	return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.sort, b.sort), strings.Compare(a.id, b.id))
}

// termGroup is one term of a search: the words that match it (one, or a
// prefix's), and how far its rows have been read.
type termGroup struct {
	words []string
	// last is the last row read: score is its weight.
	last rankKey
	done bool
}

// hit is a document a search keeps, with the row its load returned.
type hit[R any] struct {
	key rankKey
	row R
}

// topK returns the k best documents of idx that match every term of tq
// and that load returns a row for, best first, each with its key; with
// after, only those ranked below it. load gets the ids of matching
// documents and returns the rows of those the viewer may see and the
// filters keep.
func topK[R any](ctx context.Context, db *readstore.DB, idx termIndex, tq textQuery, after *rankKey, k int,
	load func(context.Context, []string) (map[string]R, error)) ([]hit[R], error) {
	groups, err := termGroups(ctx, db, idx, tq, after)
	if err != nil || groups == nil {
		return nil, err
	}
	var hits []hit[R]
	seen := map[string]bool{}
	// The first read takes a little more than the page, for the matches
	// that the viewer may not see; each next one twice as many.
	for n := k + k/4 + 4; ; n = min(2*n, maxRead) {
		found, err := readGroups(ctx, db, idx, groups, n, seen)
		if err != nil {
			return nil, err
		}
		if len(groups) > 1 || len(groups[0].words) > 1 {
			if found, err = scoreAll(ctx, db, idx, groups, found); err != nil {
				return nil, err
			}
		}
		// Only documents that would enter the top k are worth loading.
		found = slices.DeleteFunc(found, func(key rankKey) bool {
			return after != nil && key.compare(*after) >= 0 || len(hits) == k && key.compare(hits[k-1].key) <= 0
		})
		rows, err := load(ctx, keyIDs(found))
		if err != nil {
			return nil, err
		}
		for _, key := range found {
			if r, ok := rows[key.id]; ok {
				hits = append(hits, hit[R]{key: key, row: r})
			}
		}
		slices.SortFunc(hits, func(a, b hit[R]) int { return b.key.compare(a.key) })
		hits = hits[:min(len(hits), k)]
		if finished(groups, hits, k) {
			return hits, nil
		}
	}
}

// finished reports whether no document left unread can enter the top k:
// every match was read (a term's rows ran out), or the k-th kept outranks
// the best that an unread document could be.
func finished[R any](groups []termGroup, hits []hit[R], k int) bool {
	bound := rankKey{sort: math.MaxInt64}
	for i, g := range groups {
		if g.done {
			return true
		}
		bound.score += g.last.score
		if i == 0 || cmp.Or(cmp.Compare(g.last.sort, bound.sort), strings.Compare(g.last.id, bound.id)) < 0 {
			bound.sort, bound.id = g.last.sort, g.last.id
		}
	}
	return len(hits) >= k && hits[k-1].key.compare(bound) >= 0
}

func keyIDs(keys []rankKey) []string {
	out := make([]string, len(keys))
	for i, key := range keys {
		out[i] = key.id
	}
	return out
}

// termGroups returns tq's terms as groups, reading from below after: a
// document ranked below it has no term of a greater weight than its
// score. It returns nil when a prefix stands for no word.
func termGroups(ctx context.Context, db *readstore.DB, idx termIndex, tq textQuery, after *rankKey) ([]termGroup, error) {
	start := rankKey{score: math.MaxInt64, sort: math.MaxInt64}
	if after != nil {
		start = rankKey{score: after.score, sort: math.MaxInt64}
	}
	groups := make([]termGroup, len(tq.terms))
	for i, t := range tq.terms {
		groups[i] = termGroup{words: []string{t}, last: start}
	}
	if len(groups) == 1 && after != nil {
		groups[0].last = *after
	}
	if !tq.prefix {
		return groups, nil
	}
	last := &groups[len(groups)-1]
	words, err := prefixWords(ctx, db, idx, last.words[0])
	if err != nil || len(words) == 0 {
		return nil, err
	}
	last.words = words
	return groups, nil
}

// prefixWords returns the first maxPrefixTerms words of the index that
// begin with prefix, in byte order, each found by one index probe.
func prefixWords(ctx context.Context, db *readstore.DB, idx termIndex, prefix string) ([]string, error) {
	end := successor(prefix)
	query := "WITH RECURSIVE w(term) AS (" +
		"SELECT (SELECT term FROM " + idx.table + " WHERE term >= ? AND term < ? ORDER BY term LIMIT 1)" +
		" UNION ALL SELECT (SELECT x.term FROM " + idx.table + " x WHERE x.term > w.term AND x.term < ? ORDER BY x.term LIMIT 1)" +
		" FROM w WHERE w.term IS NOT NULL) SELECT term FROM w WHERE term IS NOT NULL LIMIT ?"
	var words []string
	if err := db.SelectContext(ctx, &words, db.Rebind(query), prefix, end, end, maxPrefixTerms); err != nil {
		return nil, fmt.Errorf("expand prefix: %w", err)
	}
	return words, nil
}

// successor returns the least string greater than every string that
// begins with prefix: its last character incremented.
func successor(prefix string) string {
	rs := []rune(prefix)
	for len(rs) > 0 {
		r := rs[len(rs)-1]
		switch {
		case r == 0xD7FF:
			rs[len(rs)-1] = 0xE000
			return string(rs)
		case r < utf8.MaxRune:
			rs[len(rs)-1] = r + 1
			return string(rs)
		}
		rs = rs[:len(rs)-1]
	}
	return strings.Repeat(string(utf8.MaxRune), maxTermBytes)
}

// termRow is a row of a term index as a search reads it.
type termRow struct {
	ID     string `db:"id"`
	Term   string `db:"term"`
	Weight int64  `db:"weight"`
	Sort   int64  `db:"sort_key"`
}

// readGroups reads the next n rows of every group and returns the
// documents first seen in them. Their keys hold their scores when the
// one group is one word; scoreAll computes them otherwise.
func readGroups(ctx context.Context, db *readstore.DB, idx termIndex, groups []termGroup, n int, seen map[string]bool) ([]rankKey, error) {
	var found []rankKey
	for i := range groups {
		g := &groups[i]
		if g.done {
			continue
		}
		query, args := groupQuery(idx, g, n)
		var rows []termRow
		if err := db.SelectContext(ctx, &rows, db.Rebind(query), args...); err != nil {
			return nil, fmt.Errorf("read the index: %w", err)
		}
		for _, r := range rows {
			if !seen[r.ID] {
				seen[r.ID] = true
				found = append(found, rankKey{score: r.Weight, sort: r.Sort, id: r.ID})
			}
		}
		g.done = len(rows) < n
		if len(rows) > 0 {
			last := rows[len(rows)-1]
			g.last = rankKey{score: last.Weight, sort: last.Sort, id: last.ID}
		}
	}
	return found, nil
}

// groupQuery reads the n best rows of g's words below g.last, in rank
// order: for more words than one, the n best of each word's n best.
func groupQuery(idx termIndex, g *termGroup, n int) (string, []any) {
	one := "SELECT " + idx.key + " AS id, weight, sort_key FROM " + idx.table +
		" WHERE term = ? AND (weight, sort_key, " + idx.key + ") < (?, ?, ?)" +
		" ORDER BY weight DESC, sort_key DESC, " + idx.key + " DESC LIMIT ?"
	var args []any
	for _, w := range g.words {
		args = append(args, w, g.last.score, g.last.sort, g.last.id, n)
	}
	if len(g.words) == 1 {
		return one, args
	}
	parts := make([]string, len(g.words))
	for i := range parts {
		parts[i] = fmt.Sprintf("SELECT * FROM (%s) AS w%d", one, i)
	}
	return "SELECT id, weight, sort_key FROM (" + strings.Join(parts, " UNION ALL ") + ") AS u" +
		" ORDER BY weight DESC, sort_key DESC, id DESC LIMIT ?", append(args, n)
}

// scoreAll looks up the weights of every group's words in the documents
// found and returns those that have every group, each scored: the sum
// over the groups of the greatest weight of a group's words.
func scoreAll(ctx context.Context, db *readstore.DB, idx termIndex, groups []termGroup, found []rankKey) ([]rankKey, error) {
	if len(found) == 0 {
		return nil, nil
	}
	groupsOf := map[string][]int{}
	var words []any
	for i, g := range groups {
		for _, w := range g.words {
			if groupsOf[w] == nil {
				words = append(words, w)
			}
			groupsOf[w] = append(groupsOf[w], i)
		}
	}
	// term || '' keeps both stores from reading every row of the words in
	// the rank index: they look the documents up by key instead.
	query := "SELECT " + idx.key + " AS id, term, weight, sort_key FROM " + idx.table +
		" WHERE term || '' IN (" + placeholders(len(words)) + ") AND " + idx.key + " IN (%s)"
	rows, err := selectIn[termRow](ctx, db, query, keyIDs(found), words...)
	if err != nil {
		return nil, fmt.Errorf("score matches: %w", err)
	}
	weights := map[string][]int64{}
	sorts := map[string]int64{}
	for _, r := range rows {
		ws := weights[r.ID]
		if ws == nil {
			ws = make([]int64, len(groups))
			weights[r.ID] = ws
		}
		for _, i := range groupsOf[r.Term] {
			ws[i] = max(ws[i], r.Weight)
		}
		sorts[r.ID] = r.Sort
	}
	var out []rankKey
	for _, key := range found {
		ws := weights[key.id]
		if ws == nil || slices.Contains(ws, 0) {
			continue
		}
		key.score, key.sort = 0, sorts[key.id]
		for _, w := range ws {
			key.score += w
		}
		out = append(out, key)
	}
	return out, nil
}
