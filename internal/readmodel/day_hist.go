package readmodel

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// dayHist is a histogram of whole days (days → count) as a report adds
// cells up: dense from lo, so that adding a cell's histogram is a few
// additions, with the days too far from the others to keep dense (dates
// years apart) in far.
type dayHist struct {
	lo  int
	n   []int64
	far map[int]int64
}

// denseDays bounds the span of days a histogram keeps dense.
const denseDays = 4096

func (h *dayHist) add(d int, n int64) {
	switch {
	case len(h.n) == 0:
		h.lo, h.n = d, append(make([]int64, 0, 64), n)
	case d >= h.lo && d < h.lo+len(h.n):
		h.n[d-h.lo] += n
	case d < h.lo && h.lo+len(h.n)-d <= denseDays:
		grown := make([]int64, h.lo+len(h.n)-d, max(cap(h.n), h.lo+len(h.n)-d))
		copy(grown[h.lo-d:], h.n)
		h.lo, h.n = d, grown
		h.n[0] += n
	case d >= h.lo+len(h.n) && d-h.lo < denseDays:
		h.n = append(h.n, make([]int64, d-h.lo+1-len(h.n))...)
		h.n[d-h.lo] += n
	default:
		if h.far == nil {
			h.far = map[int]int64{}
		}
		h.far[d] += n
	}
}

// each calls fn for every day with a count, in ascending order of days;
// a day may come more than once.
func (h *dayHist) each(fn func(d int, n int64) bool) {
	far := slices.Sorted(maps.Keys(h.far))
	i := 0
	for j, n := range h.n {
		d := h.lo + j
		for ; i < len(far) && far[i] <= d; i++ {
			if !fn(far[i], h.far[far[i]]) {
				return
			}
		}
		if n != 0 && !fn(d, n) {
			return
		}
	}
	for ; i < len(far); i++ {
		if !fn(far[i], h.far[far[i]]) {
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
	bad := fmt.Errorf("bad skill counts %q", s)
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, bad
	}
	for i := 1; i < len(s)-1; {
		if s[i] != '"' {
			return nil, bad
		}
		end := strings.IndexByte(s[i+1:], '"')
		if end < 0 || i+end+2 >= len(s) || s[i+end+2] != ':' {
			return nil, bad
		}
		name := s[i+1 : i+1+end]
		n, j, ok := parseInt(s, i+end+3)
		if !ok || j >= len(s) || (s[j] != ',' && s[j] != '}') {
			return nil, bad
		}
		buf = append(buf, skillCount{name, n})
		i = j + 1
	}
	return buf, nil
}
