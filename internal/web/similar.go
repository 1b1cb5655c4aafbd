package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// triedLimit is how many similar experiments the registration form shows.
const triedLimit = 5

// triedLearnings is how many learnings of each the form shows.
const triedLearnings = 2

// triedData is the "has this been tried?" panel of the registration form.
type triedData struct {
	// Text is what the panel searched for; empty before anything was
	// typed.
	Text  string
	Items []triedItem
}

// triedItem is one experiment like the one being written.
type triedItem struct {
	experiments.Experiment
	// First are its first learnings; More counts the rest.
	First []experiments.Learning
	More  int
}

// triedText is the text an experiment being written is compared by: its
// title and hypothesis.
func triedText(f *form) string {
	return strings.TrimSpace(f.Value("title") + "\n" + f.Value("hypothesis"))
}

// tried finds what has been tried like text, as r's viewer may see it:
// failures first among the most similar (readmodel.Queries.TriedBefore).
// A text longer than the API takes is cut, since it comes from a form
// being typed rather than from a caller to correct.
func (h *Handler) tried(r *http.Request, text string) (triedData, error) {
	if runes := []rune(text); len(runes) > readmodel.MaxTriedText {
		text = string(runes[:readmodel.MaxTriedText])
	}
	d := triedData{Text: strings.TrimSpace(text)}
	if d.Text == "" {
		return d, nil
	}
	got, err := h.queries.TriedBefore(r.Context(), h.viewer(r), d.Text, triedLimit)
	if err != nil {
		return d, err
	}
	for _, x := range got.Items {
		it := triedItem{Experiment: x, First: x.Learnings}
		if len(it.First) > triedLearnings {
			it.First, it.More = it.First[:triedLearnings], len(it.First)-triedLearnings
		}
		d.Items = append(d.Items, it)
	}
	return d, nil
}

// handleSimilar answers the registration form's script with the panel's
// results for ?text= as an HTML fragment. It is a route of the UI, not
// of the JSON API, so that the browser's session reads it.
func (h *Handler) handleSimilar(w http.ResponseWriter, r *http.Request) {
	d, err := h.tried(r, r.URL.Query().Get("text"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := h.pages["experiment_new"].ExecuteTemplate(&buf, "tried", d); err != nil {
		h.log.Error("render fragment", slog.String("fragment", "tried"), slog.Any("err", err))
		http.Error(w, "The results could not be rendered.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// checkTried answers a registration form sent with its "Check what has
// been tried" button, which browsers without the script use: the form
// comes back as typed, with the panel filled, and nothing is registered.
// It reports whether it answered.
func (h *Handler) checkTried(w http.ResponseWriter, r *http.Request, f *form) bool {
	if f.Value("check") == "" {
		return false
	}
	// As the form itself: offered only to those who may register.
	if p := h.principal(r); !writesExperiments(p) {
		h.fail(w, r, notAllowed(p, "register experiments"))
		return true
	}
	d, err := h.tried(r, triedText(f))
	if err != nil {
		h.fail(w, r, err)
		return true
	}
	withKey(f)
	h.render(w, r, http.StatusOK, "experiment_new", page{Title: "Register an experiment", Nav: "new",
		Data: registerData{Form: f, Kinds: kindOptions, Visibilities: visibilityOptions, Tried: d}})
	return true
}
