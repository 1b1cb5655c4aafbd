package readmodel

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// cellColumns lists figure_cells in the order of cellFigures.appendValues.
const cellColumns = `month, team, visibility, registered, started, concluded, succeeded, failed, inconclusive,
	abandoned, outcome_revisions, learnings, failures_fed, learned_and_decided, failures_with_learnings,
	failures_with_stories, stories_by_leads, cycle_days, latency_days, skills`

// cellTable writes figure_cells a month at a time.
var cellTable = newTableSpec("figure_cells", columnList(cellColumns), "month")

const loadCells = "SELECT " + cellColumns + " FROM figure_cells WHERE month IN (%s)"

// cellStore is how writeCellDeltas reads and writes a table of cells
// keyed by month first: figure_cells or requires_cells.
type cellStore struct {
	table  *tableSpec
	load   string // with one %s, for the months
	scan   func(interface{ Scan(...any) error }) (cellKey, *cellFigures, error)
	values func([]any, cellKey, *cellFigures) []any
}

var figureCells = cellStore{
	table: cellTable, load: loadCells, scan: scanCell,
	values: func(args []any, k cellKey, c *cellFigures) []any { return c.appendValues(args, k) },
}

// writeDeltas adds d to figure_cells, and its part for viewers who see
// more teams to requires_cells.
func (p *Projection) writeDeltas(ctx context.Context, tx *batchTx, d figureDeltas) error {
	cells, requiring := figureDeltas{}, figureDeltas{}
	for k, c := range d {
		if k.requires == "" {
			cells[k] = c
		} else {
			requiring[k] = c
		}
	}
	if err := writeCellDeltas(ctx, tx, figureCells, cells); err != nil {
		return err
	}
	return writeCellDeltas(ctx, tx, requiresCells, requiring)
}

// writeCellDeltas adds d to the table of s. It rewrites every month that
// d changes: those rows are few (a month has a cell per team and
// visibility, and in requires_cells per set of teams), and rewriting them
// whole keeps their histograms in one row each and leaves out the cells
// that fell empty.
func writeCellDeltas(ctx context.Context, tx *batchTx, s cellStore, d figureDeltas) error {
	months := map[string]bool{}
	for k, c := range d {
		if !c.empty() {
			months[k.month] = true
		}
	}
	if len(months) == 0 {
		return nil
	}
	cells := map[cellKey]*cellFigures{}
	err := tx.queryIn(ctx, s.load, sortedKeys(months), func(rows *sql.Rows) error {
		k, c, err := s.scan(rows)
		if err != nil {
			return err
		}
		cells[k] = c
		return nil
	})
	if err != nil {
		return fmt.Errorf("load %s: %w", s.table.name, err)
	}
	for k, delta := range d {
		if months[k.month] {
			if cells[k] == nil {
				cells[k] = newCellFigures()
			}
			cells[k].add(delta)
		}
	}
	var values []any
	for _, k := range slices.SortedFunc(maps.Keys(cells), compareCellKeys) {
		if c := cells[k]; !c.empty() {
			values = s.values(values, k, c)
		}
	}
	if err := tx.replace(ctx, s.table, sortedKeys(months), values); err != nil {
		return fmt.Errorf("write %s: %w", s.table.name, err)
	}
	return nil
}

func compareCellKeys(a, b cellKey) int {
	return cmp.Or(cmp.Compare(a.month, b.month), cmp.Compare(a.team, b.team), cmp.Compare(a.visibility, b.visibility),
		cmp.Compare(a.requires, b.requires))
}

func (c *cellFigures) appendValues(args []any, k cellKey) []any {
	args = append(args, k.month, dbText(k.team), dbText(k.visibility))
	for _, n := range c.counts {
		args = append(args, n)
	}
	return append(args, encodeDays(c.cycleDays), encodeDays(c.latencyDays), dbText(encodeCounts(c.skills)))
}

// scanCell reads a row of cellColumns.
func scanCell(rows interface{ Scan(...any) error }) (cellKey, *cellFigures, error) {
	var k cellKey
	c := newCellFigures()
	var cycle, latency, skills string
	dest := []any{&k.month, &k.team, &k.visibility}
	for i := range c.counts {
		dest = append(dest, &c.counts[i])
	}
	if err := rows.Scan(append(dest, &cycle, &latency, &skills)...); err != nil {
		return k, nil, err
	}
	err := decodeDays(cycle, c.cycleDays)
	if err == nil {
		err = decodeDays(latency, c.latencyDays)
	}
	if err == nil {
		err = decodeCounts(skills, &c.skills)
	}
	if err != nil {
		return k, nil, fmt.Errorf("figure cell %s %s %s: %w", k.month, k.team, k.visibility, err)
	}
	return k, c, nil
}

// encodeCounts writes skill counts as a JSON object; encoding/json sorts
// its keys, so equal counts are equal text.
func encodeCounts(m map[string]int64) string {
	b, _ := json.Marshal(m) // a map of strings to numbers always encodes
	return string(b)
}

// encodeDays writes a day histogram as "days:count" pairs, by days,
// separated by spaces ("" when empty): compact, and quick to read back,
// which every dashboard read does for every cell.
func encodeDays(m map[int]int64) string {
	b := make([]byte, 0, 8*len(m))
	for i, d := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(d), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, m[d], 10)
	}
	return string(b)
}

func decodeDays(s string, into map[int]int64) error {
	for pair := range strings.FieldsSeq(s) {
		ds, ns, ok := strings.Cut(pair, ":")
		d, err := strconv.Atoi(ds)
		if err == nil {
			into[d], err = strconv.ParseInt(ns, 10, 64)
		}
		if err != nil || !ok {
			return fmt.Errorf("bad day count %q", pair)
		}
	}
	return nil
}

// decodeCounts reads what encodeCounts wrote into m. Many cells name no
// skills; their "{}" is not worth a decoder.
func decodeCounts(s string, m *map[string]int64) error {
	if s == "{}" {
		return nil
	}
	return json.Unmarshal([]byte(s), m)
}
