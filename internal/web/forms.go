package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/httperr"
)

// maxFormBytes bounds a posted form, as the API bounds a JSON body.
const maxFormBytes = 1 << 20

// form is a form as the user filled it in: the values are kept as typed,
// so that a form shown again after an error loses nothing.
type form struct {
	Values url.Values
	// Errors maps a form field to what is wrong with it.
	Errors map[string]string
	// Error is a problem with the form as a whole, such as a command the
	// experiment's status does not allow.
	Error string
	// first is the first field in error, which gets the focus.
	first string
	// meta is the metadata of the command a posted form sends.
	meta experiments.Meta
}

func newForm(values url.Values) *form {
	if values == nil {
		values = url.Values{}
	}
	return &form{Values: values, Errors: map[string]string{}}
}

// Value returns what was typed into field name.
func (f *form) Value(name string) string { return f.Values.Get(name) }

// Checked reports whether value is among the values of field name, for
// checkboxes.
func (f *form) Checked(name, value string) bool {
	for _, v := range f.Values[name] {
		if v == value {
			return true
		}
	}
	return false
}

// Invalid reports whether the form has any error.
func (f *form) Invalid() bool { return f.Error != "" || len(f.Errors) > 0 }

func (f *form) setField(name, msg string) {
	if _, ok := f.Errors[name]; ok {
		return
	}
	if len(f.Errors) == 0 {
		f.first = name
	}
	f.Errors[name] = msg
}

// option is one choice of a select or radio group.
type option struct {
	Value, Label string
}

// fieldView is everything the "field" template needs to draw one labelled
// input with its hint and its error.
type fieldView struct {
	Kind                     string // text, textarea, date, number, password, select, radio
	Name, Label, Hint, Value string
	Error                    string
	Required                 bool
	Autofocus                bool
	Options                  []option
}

func (f *form) view(kind, name, label, hint string, required bool) fieldView {
	return fieldView{Kind: kind, Name: name, Label: label, Hint: hint, Value: f.Value(name),
		Error: f.Errors[name], Required: required, Autofocus: f.first == name && f.Errors[name] != ""}
}

// Text, Area, Date and Number describe inputs for the templates.
func (f *form) Text(name, label, hint string, required bool) fieldView {
	return f.view("text", name, label, hint, required)
}

// Area describes a textarea.
func (f *form) Area(name, label, hint string, required bool) fieldView {
	return f.view("textarea", name, label, hint, required)
}

// Date describes a date input.
func (f *form) Date(name, label, hint string) fieldView {
	return f.view("date", name, label, hint, false)
}

// Number describes a decimal number input.
func (f *form) Number(name, label, hint string) fieldView {
	return f.view("number", name, label, hint, false)
}

// Password describes a password input, which never shows what was typed
// into it before.
func (f *form) Password(name, label, hint string) fieldView {
	v := f.view("password", name, label, hint, true)
	v.Value = ""
	return v
}

// Select describes a drop-down of options.
func (f *form) Select(name, label, hint string, required bool, options []option) fieldView {
	v := f.view("select", name, label, hint, required)
	v.Options = options
	return v
}

// Radio describes a group of radio buttons.
func (f *form) Radio(name, label, hint string, required bool, options []option) fieldView {
	v := f.view("radio", name, label, hint, required)
	v.Options = options
	return v
}

// errorFields maps the fields the domain names in its errors to the form
// fields that show them; a field not in the map is the form field of the
// same name.
var errorFields = map[string]string{
	"learnings":                 "learning_text",
	"learnings.text":            "learning_text",
	"learnings.skills":          "learning_skills",
	"informed_by.experiment_id": "informed_by",
	"informed_by.note":          "note",
	"cost":                      "person_days",
}

// fieldLabels name the form fields in error messages, which the domain
// writes to follow a field's name ("is required").
var fieldLabels = map[string]string{
	"team": "Team", "title": "Title", "kind": "Kind", "hypothesis": "Hypothesis", "success_metric": "Success metric",
	"success_criteria": "Success criteria", "owner": "Owner", "tags": "Tags", "builds_on": "Builds on",
	"visibility": "Visibility", "person_days": "Cost", "spend": "Spend", "outcome": "Outcome", "decision": "Decision",
	"summary": "Summary", "observed": "Observed", "failure_reasons": "Each failure reason", "concluded_at": "The conclusion date",
	"learning_text": "The learning", "learning_skills": "Each skill", "reason": "Reason", "abandoned_at": "The date",
	"started_at": "The start date", "text": "The learning", "skills": "Each skill", "description": "Description",
	"launched_at": "The launch date", "informed_by": "Informed by:", "note": "Note", "experiment_id": "Experiment",
	"target_url": "The target URL", "events": "Event types:", "teams": "Teams", "format": "Format", "allow_plain_http": "Plain http:",
	"from_position": "The position", "from_time": "The time",
	"tried": "What we tried", "went_wrong": "What went wrong", "learned": "What we learned",
	"differently": "What we would do differently", "experiment_ids": "About:",
}

// failCommand shows err on the form and returns the status to answer
// with, which httperr gives its kind: a field error beside its field, any
// other refusal above the form, and an internal error as a message that
// says nothing of the cause, which is logged instead. Invalid input is
// 422 rather than the 400 of the table: the form comes back, with what
// to correct, as the page's content.
func (h *Handler) failCommand(r *http.Request, f *form, fields []string, err error) int {
	prob := httperr.Of(err)
	switch prob.Status {
	case http.StatusInternalServerError:
		h.log.ErrorContext(r.Context(), "web command failed", slog.String("path", r.URL.Path), slog.Any("err", err))
		f.Error = "Something went wrong on our side, and the change may not have been saved. Check the page before trying again: what you typed is still here."
	case http.StatusBadRequest:
		f.invalid(fields, prob.Field, prob.Message)
		return http.StatusUnprocessableEntity
	case http.StatusForbidden:
		// Who may write depends on the team; a form that names the
		// team shows the refusal beside it, where it can be changed.
		if slices.Contains(fields, "team") {
			f.setField("team", "Not allowed: "+notAllowedText(prob.Message))
		} else {
			f.Error = "Not allowed: " + notAllowedText(prob.Message)
		}
	default:
		f.Error = sentence(prob.Message)
	}
	return prob.Status
}

// invalid shows a field rule's error beside the form field it concerns,
// or above the form when the form has no such field.
func (f *form) invalid(fields []string, field, msg string) {
	shown := field
	if m, ok := errorFields[field]; ok {
		shown = m
	}
	if slices.Contains(fields, shown) {
		f.setField(shown, sentence(fieldLabels[shown]+" "+msg))
		return
	}
	f.Error = "Please correct this: " + strings.TrimSpace(strings.ReplaceAll(field, "_", " ")+" "+msg)
}

// sentence capitalises msg and ends it with a full stop.
func sentence(msg string) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return msg
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// readForm parses a posted form, checks its CSRF token, and reads the
// metadata of the command it sends. A form whose token fails comes back
// with its values and a fresh token, so that the user can check it and
// send it again: that is what happens after a server restart (a new key)
// or a cleared cookie.
func (h *Handler) readForm(w http.ResponseWriter, r *http.Request) (*form, int) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		f := newForm(nil)
		f.Error = "The form could not be read (it may be too large). Nothing was saved."
		return f, http.StatusBadRequest
	}
	f := newForm(r.PostForm)
	if !h.csrf.check(r) {
		f.Error = "This form had expired, so nothing was saved. Check what you typed and send it again."
		return f, http.StatusForbidden
	}
	m, err := h.meta(r, f)
	if err != nil {
		prob := httperr.Of(err)
		f.invalid(nil, prob.Field, prob.Message)
		return f, prob.Status
	}
	f.meta = m
	return f, http.StatusOK
}

// meta is a command's metadata from a form, read from the request as
// the JSON API reads it (auth.Meta). The form's idempotency key, made
// when the form was first shown, makes a double submit write once. A
// browser names no correlation id, so each form post starts its own.
func (h *Handler) meta(r *http.Request, f *form) (experiments.Meta, error) {
	m, err := auth.Meta(r, h.principal(r))
	if err != nil {
		return m, err
	}
	if k := f.Value("idempotency_key"); validKey(k) {
		m.IdempotencyKey = "ui-" + k
	}
	if m.CorrelationID == "" {
		m.CorrelationID = "ui-" + newKey()
	}
	return m, nil
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

func validKey(k string) bool { return keyPattern.MatchString(k) }

// newKey returns a fresh idempotency key for a form being shown.
func newKey() string {
	b := make([]byte, 16)
	rand.Read(b) // crypto/rand.Read does not fail on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// withKey gives a form shown for the first time its idempotency key.
func withKey(f *form) *form {
	if !validKey(f.Value("idempotency_key")) {
		f.Values.Set("idempotency_key", newKey())
	}
	return f
}

// submit sends a form's command, unless the form already has errors,
// and redirects to what it wrote (done). Otherwise it returns the status
// to show the form again with, its errors on it: send's own, or the
// refusal of the command, which failCommand words.
func (h *Handler) submit(w http.ResponseWriter, r *http.Request, f *form, fields []string,
	send func() (target string, pos uint64, err error)) (done bool, status int) {
	if f.Invalid() {
		return false, http.StatusUnprocessableEntity
	}
	target, pos, err := send()
	switch {
	case err != nil:
		return false, h.failCommand(r, f, fields, err)
	case f.Invalid():
		return false, http.StatusUnprocessableEntity
	}
	h.redirectAfter(w, r, target, pos)
	return true, 0
}

// redirectAfter redirects (303) to target once the read models have applied pos,
// or once WriteWait has passed, so that the page the user lands on shows
// what they just wrote.
func (h *Handler) redirectAfter(w http.ResponseWriter, r *http.Request, target string, pos uint64) {
	ctx, cancel := context.WithTimeout(r.Context(), h.writeWait)
	defer cancel()
	if err := h.db.WaitForPosition(ctx, pos); err != nil {
		h.log.Warn("redirecting before the read models caught up", slog.Uint64("position", pos), slog.Any("err", err))
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// splitList splits a comma- or newline-separated list, dropping blanks.
func splitList(s string, sep string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(sep, r) }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseDate reads a date input. Today means now; an earlier day means
// noon UTC of that day, so that a date entered for past work lands inside
// that day whatever the user's time zone.
func (h *Handler) parseDate(f *form, name string) *time.Time {
	v := strings.TrimSpace(f.Value(name))
	if v == "" {
		return nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		f.setField(name, "Enter a date like 2026-03-01.")
		return nil
	}
	now := h.now().UTC()
	if d.Format(time.DateOnly) == now.Format(time.DateOnly) {
		return nil
	}
	t := d.Add(12 * time.Hour)
	return &t
}

// parseNumber reads an optional non-negative decimal.
func parseNumber(f *form, name string) float64 {
	v := strings.TrimSpace(f.Value(name))
	if v == "" {
		return 0
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		f.setField(name, "Enter a number, like 3 or 2.5.")
		return 0
	}
	return n
}
