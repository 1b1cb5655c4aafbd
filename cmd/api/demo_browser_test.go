package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserDemo opens the pages a new user sees first after -demo: the
// overview with a year of monthly figures, an innovation's lineage graph
// several steps deep, and the learning backlog, and keeps a screenshot of
// each.
func TestBrowserDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo history takes a few seconds to write")
	}
	ctx := browser(t)
	a := startAppArgs(t, []string{"-demo"}, map[string]string{"DATA_DIR": t.TempDir()})
	pos := a.out.find(t, "demo: wrote ", nil)
	pos, _, _ = strings.Cut(pos, " ")
	a.must(200, "GET", "/v1/experiments?limit=1&min_position="+pos, nil)

	do(t, ctx, "open the overview", chromedp.Navigate(a.base+"/"), chromedp.WaitVisible(css(`#figures-heading`)))
	months := get(t, ctx, "count the months with outcomes", chromedp.Evaluate[int](`
		[...document.querySelectorAll('#chart-table tbody tr')].filter(r =>
			[...r.querySelectorAll('td')].slice(0, 4).some(td => td.textContent.trim() !== '0')).length`))
	if months < 12 {
		t.Errorf("the overview shows outcomes in %d of its months, want all twelve", months)
	}
	saveScreenshot(t, "demo-overview.png", get(t, ctx, "screenshot the overview", chromedp.FullScreenshot(100)))

	var innovations []struct{ ID, Title string }
	a.do("GET", "/v1/innovations", nil).json(t, &innovations)
	deepest, depth := "", 0
	for _, i := range innovations {
		var lineage struct{ Upstream []struct{ Depth int } }
		a.do("GET", "/v1/innovations/"+i.ID+"/lineage", nil).json(t, &lineage)
		for _, n := range lineage.Upstream {
			if n.Depth > depth {
				deepest, depth = i.ID, n.Depth
			}
		}
	}
	if depth < 3 {
		t.Fatalf("no innovation of the demo has a lineage three steps deep (deepest: %d)", depth)
	}
	do(t, ctx, "open the deepest lineage", chromedp.Navigate(a.base+"/innovations/"+deepest), chromedp.WaitVisible(css(`#lineage-heading`)))
	if !get(t, ctx, "look for the graph", chromedp.Evaluate[bool](`document.querySelector('#live svg') !== null`)) {
		t.Error("the innovation's page has no lineage graph")
	}
	saveScreenshot(t, "demo-lineage.png", get(t, ctx, "screenshot the lineage", chromedp.FullScreenshot(100)))

	do(t, ctx, "open the backlog", chromedp.Navigate(a.base+"/backlog"), chromedp.WaitVisible(css(`#live`)))
	if n := get(t, ctx, "count the backlog", chromedp.Evaluate[int](`document.querySelectorAll('ol.backlog > li').length`)); n == 0 {
		t.Error("the demo's learning backlog is empty")
	}
	saveScreenshot(t, "demo-backlog.png", get(t, ctx, "screenshot the backlog", chromedp.FullScreenshot(100)))
}
