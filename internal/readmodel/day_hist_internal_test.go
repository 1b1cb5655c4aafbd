package readmodel

import (
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDayHistMedian: the histogram, with days far apart among them and
// terms that cancel, gives the median of the values added, as a sorted list does.
func TestDayHistMedian(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 500 {
		var h dayHist
		var values []int
		for range r.IntN(40) {
			d := r.IntN(200) - 100
			if r.IntN(10) == 0 {
				d = r.IntN(2_000_000) - 1_000_000
			}
			values = append(values, d)
			if r.IntN(2) == 0 {
				h.add(d, 1)
			} else {
				// A stored cell's pairs: sorted, one per day.
				h.addRun([]dayCount{{d - 1 - r.IntN(3), 0}, {d, 1}, {d + 1 + r.IntN(3), 0}})
			}
			if r.IntN(5) == 0 {
				// A term added and taken out again leaves nothing.
				h.add(d+7, 1)
				h.add(d+7, -1)
			}
		}
		slices.Sort(values)
		got, want := h.median(), (*float64)(nil)
		if n := len(values); n > 0 {
			m := float64(values[(n-1)/2]+values[n/2]) / 2
			want = &m
		}
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Fatalf("round %d: median of %v = %v, want %v", round, values, deref(got), deref(want))
		}
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}

// TestParseCells: what encodeDays and encodeCounts write reads back.
func TestParseCells(t *testing.T) {
	days := map[int]int64{-3: 2, 0: 1, 17: -1, 400: 12}
	got, err := parseDays(encodeDays(days), nil)
	if err != nil {
		t.Fatal(err)
	}
	back := map[int]int64{}
	for _, x := range got {
		back[x.d] = x.n
	}
	if !maps.Equal(back, days) {
		t.Errorf("days read back as %v, want %v", back, days)
	}
	for _, skills := range []map[string]int64{{}, {"sql": 3, "ux research": 1}, {`a "quoted" <b>`: 2, "é": 1}} {
		got, err := parseSkills(encodeCounts(skills), nil)
		if err != nil {
			t.Fatal(err)
		}
		back := map[string]int64{}
		for _, x := range got {
			back[x.skill] = x.n
		}
		if !maps.Equal(back, skills) {
			t.Errorf("skills read back as %v, want %v", back, skills)
		}
	}
	for _, bad := range []string{"1", "1:", ":2", "1:2x", "a:b"} {
		if _, err := parseDays(bad, nil); err == nil {
			t.Errorf("parseDays(%q) took it", bad)
		}
	}
}

// TestDayHistAddRun: merging stored cells' sorted pairs, which share
// some days, gives the sums per day, sorted, one pair per day.
func TestDayHistAddRun(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 300 {
		var h dayHist
		want := map[int]int64{}
		for range r.IntN(8) {
			run := map[int]int64{}
			for range r.IntN(12) {
				d := r.IntN(40) - 20
				run[d] += int64(r.IntN(5) + 1)
			}
			var pairs []dayCount
			for _, d := range slices.Sorted(maps.Keys(run)) {
				pairs = append(pairs, dayCount{d, run[d]})
				want[d] += run[d]
			}
			h.addRun(pairs)
		}
		got := map[int]int64{}
		for i, p := range h.pairs {
			if i > 0 && p.d <= h.pairs[i-1].d {
				t.Fatalf("round %d: pairs out of order: %v", round, h.pairs)
			}
			got[p.d] = p.n
		}
		if !maps.Equal(got, want) {
			t.Fatalf("round %d: %v, want %v", round, got, want)
		}
	}
}
