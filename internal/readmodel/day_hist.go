package readmodel

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// dayHist is a histogram of whole days (days → count) as a report adds
// cells up: its pairs sorted by day, one per day. A stored cell's pairs
// are sorted too, so adding one is a merge of the two lists, in the
// number of days they count, whatever the days they span.
type dayHist struct {
	pairs []dayCount
}

// add adds n at day d.
func (h *dayHist) add(d int, n int64) {
	i, found := slices.BinarySearchFunc(h.pairs, d, func(p dayCount, d int) int { return cmp.Compare(p.d, d) })
	if found {
		h.pairs[i].n += n
		return
	}
	h.pairs = slices.Insert(h.pairs, i, dayCount{d, n})
}

// addRun adds the pairs of run, sorted by day with one pair per day as
// parseDays reads them from what encodeDays wrote. It merges in place,
// from the end: the histogram grows by run's length, and gives back one
// place per day the two share.
func (h *dayHist) addRun(run []dayCount) {
	for i := 1; i < len(run); i++ {
		if run[i].d <= run[i-1].d {
			for _, p := range run {
				h.add(p.d, p.n)
			}
			return
		}
	}
	n := len(h.pairs)
	a := append(h.pairs, run...)
	i, j, k := n-1, len(run)-1, len(a)-1
	for ; j >= 0; k-- {
		switch {
		case i >= 0 && a[i].d > run[j].d:
			a[k] = a[i]
			i--
		case i >= 0 && a[i].d == run[j].d:
			a[k] = dayCount{a[i].d, a[i].n + run[j].n}
			i, j = i-1, j-1
		default:
			a[k] = run[j]
			j--
		}
	}
	// a[:i+1] stayed in place; the merged rest is a[k+1:], after a gap
	// of one place per day shared.
	if gap := k - i; gap > 0 {
		copy(a[i+1:], a[k+1:])
		a = a[:len(a)-gap]
	}
	h.pairs = a
}

// each calls fn for every day with a count, in ascending order of days,
// until fn returns false.
func (h *dayHist) each(fn func(d int, n int64) bool) {
	for _, p := range h.pairs {
		if p.n != 0 && !fn(p.d, p.n) {
			return
		}
	}
}

// median is the median of the values the histogram counts: the middle
// one, or the mean of the two middle ones; nil when it counts none.
func (h *dayHist) median() *float64 {
	var total int64
	h.each(func(_ int, n int64) bool {
		total += max(n, 0)
		return true
	})
	if total == 0 {
		return nil
	}
	lo, hi := (total-1)/2, total/2
	var a, b int
	var seen int64
	h.each(func(d int, n int64) bool {
		n = max(n, 0)
		if seen <= lo && lo < seen+n {
			a = d
		}
		if seen <= hi && hi < seen+n {
			b = d
			return false
		}
		seen += n
		return true
	})
	m := float64(a+b) / 2
	return &m
}

// dayCount is one pair of a stored day histogram.
type dayCount struct {
	d int
	n int64
}

// parseDays reads what encodeDays wrote into buf, reused.
func parseDays(s string, buf []dayCount) ([]dayCount, error) {
	buf = buf[:0]
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		d, j, ok := parseInt(s, i)
		if !ok || j >= len(s) || s[j] != ':' {
			return nil, fmt.Errorf("bad day counts %q", s)
		}
		n, k, ok := parseInt(s, j+1)
		if !ok || (k < len(s) && s[k] != ' ') {
			return nil, fmt.Errorf("bad day counts %q", s)
		}
		buf = append(buf, dayCount{int(d), n})
		i = k
	}
	return buf, nil
}

// parseInt reads a decimal integer of at most 18 digits, maybe negative,
// at s[i:], and returns it with the index after it.
func parseInt(s string, i int) (int64, int, bool) {
	neg := i < len(s) && s[i] == '-'
	if neg {
		i++
	}
	start := i
	var v int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		v = v*10 + int64(s[i]-'0')
	}
	if i == start || i-start > 18 {
		return 0, i, false
	}
	if neg {
		v = -v
	}
	return v, i, true
}

// skillCount is one skill of a stored cell with its count.
type skillCount struct {
	skill string
	n     int64
}

// parseSkills reads what encodeCounts wrote into buf, reused: by hand
// when no name needs an escape, which is every name in practice, and
// with encoding/json otherwise.
func parseSkills(s string, buf []skillCount) ([]skillCount, error) {
	buf = buf[:0]
	if strings.IndexByte(s, '\\') >= 0 {
		var m map[string]int64
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, err
		}
		for k, n := range m {
			buf = append(buf, skillCount{k, n})
		}
		return buf, nil
	}
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, badSkills(s)
	}
	for i := 1; i < len(s)-1; {
		if s[i] != '"' {
			return nil, badSkills(s)
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 || i+end+2 >= len(s) || s[i+end+2] != ':' {
			return nil, badSkills(s)
		}
		name := s[i+1 : i+1+end]
		n, j, ok := parseInt(s, i+end+3)
		if !ok || j >= len(s) || (s[j] != ',' && s[j] != '}') {
			return nil, badSkills(s)
		}
		buf = append(buf, skillCount{name, n})
		i = j + 1
	}
	return buf, nil
}

func badSkills(s string) error { return fmt.Errorf("bad skill counts %q", s) }
