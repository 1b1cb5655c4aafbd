package experiments

import (
	"strings"
	"unicode"
)

// SkillKey is the one rule for comparing skills, which learnings name
// (experiment.learning_recorded's skills): two names are one skill when
// their keys are equal. The key ignores case and surrounding space, and
// folds every inner run of white space to one space, so "UX", " ux" and
// "ux" are one skill, as are "user  research" and "User Research". A
// skill is shown as it was first written; the key is only for grouping,
// counting and filtering. A blank name has the empty key.
//
// Case is folded rune by rune the way strings.EqualFold compares, so that
// the key agrees with it: "K" (the Kelvin sign), "K" and "k" are one; so
// are "Σ", "σ" and "ς". Letters written in different Unicode forms (an
// "é" typed as "e" and a combining accent) are not made equal.
func SkillKey(s string) string {
	return strings.Map(foldRune, strings.Join(strings.Fields(s), " "))
}

// foldRune maps r to one member of its case-folding orbit, the same for
// every member: the lower case of the orbit's smallest rune.
func foldRune(r rune) rune {
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	return unicode.ToLower(least)
}
