package web

import (
	"fmt"
	"strings"

	"github.com/failforward/failforward/internal/readmodel"
)

// The outcome chart is SVG computed here and drawn by a template: no
// script, nothing to download, readable by a screen reader through its
// title, its description and the table beside it.

// chart is a stacked bar chart of outcomes per month.
type chart struct {
	Title, Desc   string
	Width, Height int
	// PlotLeft, PlotTop and PlotBottom frame the bars, for the axes.
	PlotLeft, PlotRight, PlotTop, PlotBottom int
	Ticks                                    []tick
	Bars                                     []bar
	Series                                   []series
}

type tick struct {
	Y     int
	Label string
}

type bar struct {
	X, W, LabelX int
	Label, Year  string
	Title        string
	Segments     []segment
}

type segment struct {
	Y, H  int
	Class string
}

type series struct {
	Name, Class string
}

// outcomeSeries are stacked bottom up, each with a CSS class that sets
// its colour (and, in forced-colours mode, its pattern of outline).
var outcomeSeries = []series{
	{"Succeeded", "s-succeeded"}, {"Failed", "s-failed"}, {"Inconclusive", "s-inconclusive"}, {"Abandoned", "s-abandoned"},
}

func seriesValues(m readmodel.PeriodMetrics) []int {
	return []int{m.Succeeded, m.Failed, m.Inconclusive, m.Abandoned}
}

func outcomeChart(months []readmodel.PeriodMetrics, title string) chart {
	c := chart{Title: title, Width: 760, Height: 300, PlotLeft: 44, PlotRight: 750, PlotTop: 12, PlotBottom: 250, Series: outcomeSeries}
	top := 0
	var desc []string
	for _, m := range months {
		total := 0
		for _, v := range seriesValues(m) {
			total += v
		}
		top = max(top, total)
		if total > 0 {
			desc = append(desc, fmt.Sprintf("%s: %d succeeded, %d failed, %d inconclusive, %d abandoned",
				monthName(m.Period), m.Succeeded, m.Failed, m.Inconclusive, m.Abandoned))
		}
	}
	if len(desc) == 0 {
		c.Desc = "No experiment concluded or was abandoned in these months."
	} else {
		c.Desc = strings.Join(desc, "; ") + "."
	}
	step := niceStep(top)
	ceil := step * max(1, (top+step-1)/step)
	height := c.PlotBottom - c.PlotTop
	y := func(v int) int { return c.PlotBottom - v*height/ceil }
	for v := 0; v <= ceil; v += step {
		c.Ticks = append(c.Ticks, tick{Y: y(v), Label: fmt.Sprint(v)})
	}
	slot := (c.PlotRight - c.PlotLeft) / max(1, len(months))
	for i, m := range months {
		b := bar{X: c.PlotLeft + i*slot + slot/6, W: slot * 2 / 3, LabelX: c.PlotLeft + i*slot + slot/2}
		if t, ok := periodStart(m.Period, readmodel.BucketMonth); ok {
			b.Label = t.Format("Jan")
			if i == 0 || t.Month() == 1 {
				b.Year = t.Format("2006")
			}
		}
		vals := seriesValues(m)
		b.Title = fmt.Sprintf("%s: %d succeeded, %d failed, %d inconclusive, %d abandoned",
			monthName(m.Period), vals[0], vals[1], vals[2], vals[3])
		acc := 0
		for s, v := range vals {
			if v == 0 {
				continue
			}
			y0, y1 := y(acc), y(acc+v)
			b.Segments = append(b.Segments, segment{Y: y1, H: y0 - y1, Class: outcomeSeries[s].Class})
			acc += v
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// niceStep picks a tick step of 1, 2 or 5 times a power of ten that
// gives at most five ticks above zero.
func niceStep(top int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if top <= m*p*5 {
				return m * p
			}
		}
	}
}
