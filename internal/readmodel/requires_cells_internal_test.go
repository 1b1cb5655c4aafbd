package readmodel

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/readstore"
)

// UnfillRequiresCells leaves a read store as migration 0011 finds one
// with figures in it: the failures and stories whose figures depend on
// the viewer's teams are out of the cells, requires_cells is empty, and
// read_model_backfill names it.
func UnfillRequiresCells(tb testing.TB, db *readstore.DB) {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	p, err := NewProjection(db.Dialect)
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.fillRequiresCells(ctx, &batchTx{tx: tx, texts: p.texts}, -1); err != nil {
		tb.Fatal(err)
	}
	var left int
	if err := tx.GetContext(ctx, &left, "SELECT count(*) FROM requires_cells"); err != nil {
		tb.Fatal(err)
	}
	if left != 0 {
		tb.Fatalf("%d requires_cells rows left after taking every term out", left)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO read_model_backfill (item) VALUES ('"+backfillRequiresCells+"')"); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

// TestLaunchTerms: summed over the sets a viewer's teams hold, a
// failure's terms are one failure fed, at the first launch it sees.
func TestLaunchTerms(t *testing.T) {
	at := func(d int, requires string) feedRow {
		return feedRow{requires: requires, launchedAt: time.Date(2026, 1, 1+d, 12, 0, 0, 0, time.UTC)}
	}
	f := &failureFigure{concludedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), depends: true}
	rows := []feedRow{at(5, "a"), at(7, "b"), at(9, ""), at(3, "a,b"), at(6, "a")}
	terms := launchTerms(f, rows)
	viewers := map[string]int{"": 9, "a": 5, "b": 7, "a,b": 3, "c": 9, "a,c": 5}
	for teams, want := range viewers {
		v := Viewer{}
		if teams != "" {
			v.Teams = strings.Split(teams, ",")
		}
		count, days := int64(0), map[int]int64{}
		for k, n := range terms {
			if v.seesAll(k.requires) {
				count += n
				days[k.days] += n
			}
		}
		for d, n := range days {
			if n == 0 {
				delete(days, d)
			}
		}
		if count != 1 || len(days) != 1 || days[want] != 1 {
			t.Errorf("viewer of %q: count %d, days %v; want one at %d (terms %v)", teams, count, days, want, terms)
		}
	}
}

// TestAnyOf: summed over the sets a viewer's teams hold, the terms of a
// story item are 1 when the viewer meets one of its sets, else 0.
func TestAnyOf(t *testing.T) {
	terms := anyOf([]string{"a", "b,c", "a,c", "d"})
	for teams, want := range map[string]int64{"": 0, "a": 1, "b": 0, "c": 0, "b,c": 1, "a,b,c,d": 1, "c,d": 1, "e": 0} {
		var v Viewer
		if teams != "" {
			v.Teams = strings.Split(teams, ",")
		}
		var got int64
		for s, n := range terms {
			if v.seesAll(s) {
				got += n
			}
		}
		if got != want {
			t.Errorf("viewer of %q: %d, want %d (terms %v)", teams, got, want, terms)
		}
	}
}
