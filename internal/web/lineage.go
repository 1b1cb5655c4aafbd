package web

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/failforward/failforward/internal/readmodel"
)

// A lineage is drawn as layers, left to right in the order things fed one
// another: an experiment stands one column right of the furthest
// experiment it builds on, and innovations stand in the last column. The
// layout is computed here and the SVG drawn by a template, so the graph
// needs no script, and every node is a link a keyboard can reach.

const (
	nodeW   = 200
	nodeH   = 58
	colW    = 250
	rowH    = nodeH + 18
	padding = 8
	maxText = 24
	arcBand = 40
)

// graph is a laid-out lineage.
type graph struct {
	Title, Desc   string
	Width, Height int
	Nodes         []gnode
	Edges         []gedge
}

type gnode struct {
	ID, Kind           string
	Href, Label, Title string
	Sub                string
	Failed, Current    bool
	X, Y               int
	col, row           int
	from               []string
}

type gedge struct {
	D      string
	Failed bool
}

// layout places nodes in columns by longest path from their sources and
// orders each column by the mean row of what feeds it, which keeps most
// edges from crossing in the small graphs lineages are.
func layout(nodes []gnode, title string) graph {
	byID := map[string]*gnode{}
	for i := range nodes {
		byID[nodes[i].ID] = &nodes[i]
	}
	assignColumns(nodes, byID)
	cols := map[int][]*gnode{}
	width := 0
	for i := range nodes {
		cols[nodes[i].col] = append(cols[nodes[i].col], &nodes[i])
		width = max(width, nodes[i].col+1)
	}
	tallest := orderRows(cols, width, byID)
	band := arcBandOf(nodes, byID)
	g := graph{Title: title, Width: padding*2 + (width-1)*colW + nodeW, Height: band + padding*2 + tallest*rowH - (rowH - nodeH)}
	for c := 0; c < width; c++ {
		offset := (tallest - len(cols[c])) * rowH / 2
		for _, n := range cols[c] {
			n.X, n.Y = padding+c*colW, band+padding+offset+n.row*rowH
		}
	}
	g.Edges = edges(nodes, byID, band)
	g.Nodes = nodes
	return g
}

// assignColumns puts each experiment one column right of the furthest
// experiment it builds on, and every innovation in the column after the
// last experiment.
func assignColumns(nodes []gnode, byID map[string]*gnode) {
	var colOf func(n *gnode, depth int) int
	done := map[string]bool{}
	colOf = func(n *gnode, depth int) int {
		if done[n.ID] || depth > len(nodes) {
			return n.col
		}
		c := 0
		for _, f := range n.from {
			if p, ok := byID[f]; ok && p.Kind == "experiment" {
				c = max(c, colOf(p, depth+1)+1)
			}
		}
		n.col, done[n.ID] = c, true
		return c
	}
	last := 0
	for i := range nodes {
		if nodes[i].Kind == "experiment" {
			last = max(last, colOf(&nodes[i], 0))
		}
	}
	for i := range nodes {
		if nodes[i].Kind == "innovation" {
			nodes[i].col = last + 1
		}
	}
}

// orderRows orders each column by the mean row of what feeds its nodes
// from earlier columns, and returns the height of the tallest column.
func orderRows(cols map[int][]*gnode, width int, byID map[string]*gnode) int {
	tallest := 0
	for c := 0; c < width; c++ {
		col := cols[c]
		mean := func(n *gnode) float64 {
			sum, k := 0.0, 0
			for _, f := range n.from {
				if p, ok := byID[f]; ok && p.col < c {
					sum += float64(p.row)
					k++
				}
			}
			if k == 0 {
				return -1
			}
			return sum / float64(k)
		}
		slices.SortStableFunc(col, func(a, b *gnode) int { return cmp.Compare(mean(a), mean(b)) })
		for r, n := range col {
			n.row = r
		}
		tallest = max(tallest, len(col))
	}
	return tallest
}

// arcBandOf returns the height kept free above the nodes for edges that
// skip a column: such an edge would run behind the nodes between its
// ends, so it arcs over the top instead.
func arcBandOf(nodes []gnode, byID map[string]*gnode) int {
	for i := range nodes {
		for _, f := range nodes[i].from {
			if p, ok := byID[f]; ok && nodes[i].col-p.col > 1 {
				return arcBand
			}
		}
	}
	return 0
}

// edges draws an edge from each placed node to what built on it: a
// curve to the next column, or an arc through the band over the top.
func edges(nodes []gnode, byID map[string]*gnode, band int) []gedge {
	var out []gedge
	for i := range nodes {
		n := &nodes[i]
		for _, f := range n.from {
			p, ok := byID[f]
			if !ok {
				continue
			}
			e := gedge{Failed: p.Failed}
			if n.col-p.col > 1 {
				x1, y1, x2, y2 := p.X+nodeW/2, p.Y, n.X+nodeW/2, n.Y-6
				top := min(y1, y2) - band + padding
				e.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, x1, top, x2, top, x2, y2)
			} else {
				x1, y1, x2, y2 := p.X+nodeW, p.Y+nodeH/2, n.X, n.Y+nodeH/2
				mid := (x1 + x2) / 2
				e.D = fmt.Sprintf("M%d %d C%d %d %d %d %d %d", x1, y1, mid, y1, mid, y2, x2-6, y2)
			}
			out = append(out, e)
		}
	}
	return out
}

func shorten(s string) string {
	if utf8.RuneCountInString(s) <= maxText {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:maxText-1])) + "…"
}

func experimentNode(n readmodel.LineageNode, current bool) gnode {
	state := label(n.Status)
	if n.Outcome != "" {
		state = label(n.Outcome)
	}
	if n.Failed {
		state = "✕ " + state
	}
	return gnode{
		ID: n.ID, Kind: "experiment", Href: "/experiments/" + n.ID, Label: shorten(n.Title),
		Title: fmt.Sprintf("Experiment: %s (%s, %s)", n.Title, n.Team, strings.TrimPrefix(state, "✕ ")),
		Sub:   state + " · " + n.Team, Failed: n.Failed, Current: current, from: n.BuildsOn,
	}
}

func innovationNode(id, title, team string, current bool, from []string) gnode {
	return gnode{
		ID: id, Kind: "innovation", Href: "/innovations/" + id, Label: shorten(title),
		Title: fmt.Sprintf("Innovation: %s (%s)", title, team), Sub: "★ Innovation · " + team, Current: current, from: from,
	}
}

// innovationGraph draws the experiments upstream of an innovation.
func innovationGraph(l readmodel.InnovationLineage) graph {
	var nodes []gnode
	failed := 0
	for _, n := range l.Upstream {
		nodes = append(nodes, experimentNode(n, false))
		if n.Failed {
			failed++
		}
	}
	var links []string
	for _, ln := range l.Innovation.InformedBy {
		links = append(links, ln.ExperimentID)
	}
	nodes = append(nodes, innovationNode(l.Innovation.ID, l.Innovation.Title, l.Innovation.Team, true, links))
	g := layout(nodes, "Lineage of "+l.Innovation.Title)
	g.Desc = fmt.Sprintf("%d experiments led to this innovation, %d of them failures. Read from left to right: each arrow goes from an experiment to what built on it.",
		len(l.Upstream), failed)
	return g
}

// experimentGraph draws what an experiment fed: the experiments that
// built on it, and the innovations they informed.
func experimentGraph(l readmodel.ExperimentLineage) graph {
	nodes := []gnode{experimentNode(l.Experiment, true)}
	nodes[0].from = nil // what it built on is not part of what it fed
	for _, n := range l.Downstream {
		nodes = append(nodes, experimentNode(n, false))
	}
	for _, inn := range l.Innovations {
		nodes = append(nodes, innovationNode(inn.ID, inn.Title, inn.Team, false, []string{inn.Via}))
	}
	g := layout(nodes, "What "+l.Experiment.Title+" fed")
	g.Desc = fmt.Sprintf("%d later experiments built on this one, and it fed %d innovations. Read from left to right.",
		len(l.Downstream), len(l.Innovations))
	return g
}
