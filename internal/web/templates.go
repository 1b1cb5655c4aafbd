package web

import (
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"path"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// parsePages parses the layout and partials once, then each page on a
// clone of them, so that every page defines its own "content".
func parsePages(funcs template.FuncMap) (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: list templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, file := range files {
		t, err := base.Clone()
		if err != nil {
			return nil, fmt.Errorf("web: clone layout: %w", err)
		}
		if _, err := t.ParseFS(templateFS, file); err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", file, err)
		}
		pages[strings.TrimSuffix(path.Base(file), ".html")] = t
	}
	return pages, nil
}

var labels = map[string]string{
	"ab_test": "A/B test", "prototype": "Prototype", "interview": "Interviews", "fake_door": "Fake door",
	"pilot": "Pilot", "other": "Other",
	"planned": "Planned", "running": "Running", "concluded": "Concluded", "abandoned": "Abandoned",
	"succeeded": "Succeeded", "failed": "Failed", "inconclusive": "Inconclusive",
	"persevere": "Persevere", "pivot": "Pivot", "iterate": "Iterate", "stop": "Stop", "scale": "Scale",
	"org": "Whole organisation", "team": "Team only (with leads and admins)",
}

// label turns an enum value into words for people.
func label(v string) string {
	if l, ok := labels[v]; ok {
		return l
	}
	return v
}

func options(values []string) []option {
	out := make([]option, len(values))
	for i, v := range values {
		out[i] = option{Value: v, Label: label(v)}
	}
	return out
}

var (
	kindOptions       = options(experiments.Kinds)
	outcomeOptions    = options(experiments.Outcomes)
	decisionOptions   = options(experiments.Decisions)
	visibilityOptions = options([]string{experiments.VisibilityOrg, experiments.VisibilityTeam})
	statusOptions     = options(experiments.Statuses)
)

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"label": label,
		"asset": func(name string) string { return "/static/" + name + "?v=" + h.assetTag },
		"date": func(t any) string {
			switch t := t.(type) {
			case time.Time:
				if t.IsZero() {
					return ""
				}
				return t.UTC().Format("2 Jan 2006")
			case *time.Time:
				if t == nil || t.IsZero() {
					return ""
				}
				return t.UTC().Format("2 Jan 2006")
			}
			return ""
		},
		"datetime": func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
		"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"join":     strings.Join,
		"percent":  percent,
		"days":     daysText,
		"num":      func(f float64) string { return trimFloat(f, 1) },
		"add":      func(a, b int) int { return a + b },
	}
}

func percent(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", math.Round(*p*100))
}

func daysText(p *float64) string {
	if p == nil {
		return "–"
	}
	d := *p
	if math.Abs(d) < 10 {
		return trimFloat(d, 1) + " days"
	}
	return fmt.Sprintf("%.0f days", d)
}

// trimFloat formats f with at most prec decimals and no trailing zeros.
func trimFloat(f float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, f)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
