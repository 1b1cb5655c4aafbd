package experiments_test

import (
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/experiments"
)

func TestSkillKey(t *testing.T) {
	same := [][]string{
		{"UX", " ux", "ux", "Ux ", "\tuX\n"},
		{"user research", "User  Research", " user \t research ", "USER\u00a0RESEARCH"},
		{"K8s", "k8S", "\u212a8s"}, // the Kelvin sign folds with K and k
		{"ΣΟΦΊΑ", "σοφία", "ςοφία"},
	}
	for _, group := range same {
		want := experiments.SkillKey(group[0])
		for _, s := range group[1:] {
			if got := experiments.SkillKey(s); got != want {
				t.Errorf("SkillKey(%q) = %q, want %q as for %q", s, got, want, group[0])
			}
		}
		// The key agrees with strings.EqualFold on the spaced-out names.
		for _, s := range group {
			if k := experiments.SkillKey(s); !strings.EqualFold(k, strings.Join(strings.Fields(s), " ")) {
				t.Errorf("SkillKey(%q) = %q does not fold-equal the name", s, k)
			}
		}
	}
	if got := experiments.SkillKey("  Pricing   Strategy "); got != "pricing strategy" {
		t.Errorf("SkillKey = %q, want %q", got, "pricing strategy")
	}
	different := [][2]string{{"ux", "u x"}, {"ux", "uxr"}, {"research", "résearch"}}
	for _, d := range different {
		if experiments.SkillKey(d[0]) == experiments.SkillKey(d[1]) {
			t.Errorf("SkillKey(%q) == SkillKey(%q), want different skills", d[0], d[1])
		}
	}
	for _, blank := range []string{"", "   ", "\t\n"} {
		if got := experiments.SkillKey(blank); got != "" {
			t.Errorf("SkillKey(%q) = %q, want empty", blank, got)
		}
	}
}
