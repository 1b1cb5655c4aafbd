package web

import (
	"slices"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
)

// TestPagesOfferWhatTheRuleAllows walks every command × every status and
// checks that the experiment page and the command forms offer exactly the
// commands the domain's rule allows, to a principal who may write.
func TestPagesOfferWhatTheRuleAllows(t *testing.T) {
	h := &Handler{}
	var paths []string
	for _, c := range experimentCommands {
		paths = append(paths, c.path)
	}
	for _, cmd := range experiments.ExperimentCommands {
		if !slices.ContainsFunc(experimentCommands, func(c experimentCommand) bool { return c.cmd == cmd }) {
			t.Errorf("no page sends the command %s", cmd)
		}
	}
	for _, status := range experiments.Statuses {
		x := experiments.Experiment{ID: "01JX0000000000000000000000", Team: "growth", Status: status}
		start, actions := experimentActions(nil, x)
		if start != x.Allows(experiments.CommandStart) {
			t.Errorf("%s: one-click start offered = %v, the rule allows it = %v", status, start, !start)
		}
		offered := map[string]bool{}
		for _, a := range actions {
			if path, ok := strings.CutPrefix(a.Href, "/experiments/"+x.ID+"/"); ok && slices.Contains(paths, path) {
				offered[path] = true
			}
		}
		for _, c := range experimentCommands {
			allowed := x.Allows(c.cmd)
			if got := h.commandData(x, newForm(nil), c).Allowed; got != allowed {
				t.Errorf("%s: the %s form is open = %v, the rule allows it = %v", status, c.path, got, allowed)
			}
			if c.label == "" {
				continue
			}
			if offered[c.path] != allowed {
				t.Errorf("%s: the page offers %s = %v, the rule allows it = %v", status, c.path, offered[c.path], allowed)
			}
		}
	}
}
