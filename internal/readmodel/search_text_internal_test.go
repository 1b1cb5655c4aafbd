package readmodel

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSearchTextIsStable checks that a search document's text, tokenized
// again, is itself: the projection knows the index rows stored for a
// document from its stored text (storedDocFields), which it tokenizes
// again as the backfill does. Were it not so, a batch could find a term
// missing that is stored, and fail on the index's key when it writes it.
func TestSearchTextIsStable(t *testing.T) {
	// Letters that change length or number when lowercased, marks,
	// digits of other scripts, separators, and invalid UTF-8.
	pieces := []string{"a", "Z", "é", "İ", "Ⱥ", "ẞ", "Σ", "ς", "ǅ", "K", "Å", "ﬃ", "ß", "é", "\u0301", "٣", "中", "🙂",
		"-", "_", ".", "\x00", "\xff", "\xe2\x82", "'"}
	separators := []string{" ", "\n", ", ", "\t"}
	// A term as long as a term may be before it is lowercased, and longer
	// after: "Ⱥ" is 2 bytes, "ⱥ" 3.
	for _, s := range []string{strings.Repeat("Ⱥ", maxTermBytes/2) + " plain", "ok " + strings.Repeat("aȾ", maxTermBytes/3)} {
		once := searchText(s, maxFieldRunes)
		if twice := searchText(once, maxFieldRunes); twice != once {
			t.Errorf("searchText(%.20q…) = %.20q…, and tokenized again %.20q…", s, once, twice)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		var sb strings.Builder
		words := rng.IntN(40)
		for range words {
			// Some words run near and past the longest term kept.
			n := 1 + rng.IntN(8)
			if rng.IntN(10) == 0 {
				n = 120 + rng.IntN(20)
			}
			for range n {
				sb.WriteString(pieces[rng.IntN(len(pieces))])
			}
			sb.WriteString(separators[rng.IntN(len(separators))])
		}
		// A short limit, so that the cut at a token boundary is tried too.
		limit := []int{maxFieldRunes, 64, 200}[i%3]
		once := searchText(sb.String(), limit)
		if twice := searchText(once, limit); twice != once {
			t.Fatalf("searchText(%q) = %q, and tokenized again %q", sb.String(), once, twice)
		}
	}
}
