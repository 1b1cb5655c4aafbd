package web

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// commandData is what the experiment forms render.
type commandData struct {
	X       experiments.Experiment
	Form    *form
	Cmd     string
	Heading string
	Intro   string
	Button  string
	Action  string
	// Allowed is false when the experiment's status rules the command
	// out; the page then says so instead of offering a form that fails.
	Allowed                                  bool
	Kinds, Outcomes, Decisions, Visibilities []option
}

func (h *Handler) commandData(x experiments.Experiment, f *form, c experimentCommand) commandData {
	return commandData{
		X: x, Form: f, Cmd: c.path, Heading: c.heading, Intro: c.intro, Button: c.button,
		Action:  "/experiments/" + x.ID + "/" + c.path,
		Allowed: x.Allows(c.cmd),
		Kinds:   kindOptions, Outcomes: outcomeOptions, Decisions: decisionOptions, Visibilities: visibilityOptions,
	}
}

// experimentCommand is one form that sends a command to an existing
// experiment.
type experimentCommand struct {
	path, heading, intro, button string
	// cmd is the domain's command, whose rule says which statuses allow it.
	cmd experiments.Command
	// label names the command among the experiment page's actions; the
	// page offers it wherever the rule allows. Start has none: the page
	// starts an experiment with one click instead.
	label string
	// primary marks the action the page puts first.
	primary bool
	// fields are the form fields that can show an error.
	fields []string
	// prefill fills the form shown first.
	prefill func(f *form, x experiments.Experiment)
	run     func(h *Handler, r *http.Request, f *form, x experiments.Experiment, m experiments.Meta) (experiments.Experiment, error)
}

var preRegistration = []string{"title", "kind", "hypothesis", "success_metric", "success_criteria", "owner", "tags", "visibility", "person_days", "spend"}

var experimentCommands = []experimentCommand{
	{
		path: "revise", heading: "Revise the pre-registration", button: "Save revision",
		intro: "While an experiment is planned its hypothesis and criteria can still change. Once it starts they are sealed, so results can never move the goalposts.",
		cmd:   experiments.CommandRevise, label: "Revise pre-registration", fields: preRegistration,
		prefill: func(f *form, x experiments.Experiment) {
			f.Values.Set("title", x.Title)
			f.Values.Set("kind", x.Kind)
			f.Values.Set("hypothesis", x.Hypothesis)
			f.Values.Set("success_metric", x.SuccessMetric)
			f.Values.Set("success_criteria", x.SuccessCriteria)
			f.Values.Set("owner", x.Owner)
			f.Values.Set("tags", strings.Join(x.Tags, ", "))
			f.Values.Set("visibility", x.Visibility)
			if x.Cost != nil {
				f.Values.Set("person_days", trimFloat(x.Cost.PersonDays, 2))
				f.Values.Set("spend", trimFloat(x.Cost.Spend, 2))
			}
		},
		run: reviseExperiment,
	},
	{
		path: "start", heading: "Start the experiment", button: "Start",
		intro: "Starting seals the pre-registration: the hypothesis and success criteria can no longer change.",
		cmd:   experiments.CommandStart, fields: []string{"started_at"},
		run: func(h *Handler, r *http.Request, f *form, x experiments.Experiment, m experiments.Meta) (experiments.Experiment, error) {
			cmd := experiments.StartExperiment{StartedAt: h.parseDate(f, "started_at")}
			if f.Invalid() {
				return experiments.Experiment{}, nil
			}
			return h.svc.StartExperiment(r.Context(), m, x.ID, cmd)
		},
	},
	{
		path: "conclude", heading: "Conclude the experiment", button: "Conclude",
		intro: "A failure is a result, not a verdict: say what happened and what it taught, so a later team can build on it.",
		cmd:   experiments.CommandConclude, label: "Conclude", primary: true,
		fields: []string{"outcome", "decision", "summary", "observed", "failure_reasons", "concluded_at", "learning_text", "learning_skills"},
		run: func(h *Handler, r *http.Request, f *form, x experiments.Experiment, m experiments.Meta) (experiments.Experiment, error) {
			cmd := experiments.ConcludeExperiment{
				Outcome: f.Value("outcome"), Decision: f.Value("decision"), Summary: f.Value("summary"),
				Observed: f.Value("observed"), FailureReasons: splitList(f.Value("failure_reasons"), "\n"),
				ConcludedAt: h.parseDate(f, "concluded_at"),
			}
			if text, skills := f.Value("learning_text"), splitList(f.Value("learning_skills"), ","); strings.TrimSpace(text) != "" || len(skills) > 0 {
				cmd.Learnings = []experiments.NewLearning{{Text: text, Skills: skills}}
			}
			if f.Invalid() {
				return experiments.Experiment{}, nil
			}
			return h.svc.ConcludeExperiment(r.Context(), m, x.ID, cmd)
		},
	},
	{
		path: "outcome", heading: "Revise the outcome", button: "Revise outcome",
		intro: "The original call stays in the history; the revision and its reason are recorded beside it.",
		cmd:   experiments.CommandReviseOutcome, label: "Revise the outcome", fields: []string{"outcome", "reason"},
		run: func(h *Handler, r *http.Request, f *form, x experiments.Experiment, m experiments.Meta) (experiments.Experiment, error) {
			return h.svc.ReviseOutcome(r.Context(), m, x.ID, experiments.ReviseOutcome{Outcome: f.Value("outcome"), Reason: f.Value("reason")})
		},
	},
	{
		path: "abandon", heading: "Abandon the experiment", button: "Abandon",
		intro: "Stopping early is a result too. Say why, so the next team knows what got in the way.",
		cmd:   experiments.CommandAbandon, label: "Abandon", fields: []string{"reason", "abandoned_at"},
		run: func(h *Handler, r *http.Request, f *form, x experiments.Experiment, m experiments.Meta) (experiments.Experiment, error) {
			cmd := experiments.AbandonExperiment{Reason: f.Value("reason"), AbandonedAt: h.parseDate(f, "abandoned_at")}
			if f.Invalid() {
				return experiments.Experiment{}, nil
			}
			return h.svc.AbandonExperiment(r.Context(), m, x.ID, cmd)
		},
	},
	{
		path: "learnings", heading: "Record a learning", button: "Record learning",
		intro: "What did this experiment teach? Name the skills it drew on, so others can find it in the learnings library.",
		cmd:   experiments.CommandRecordLearning, label: "Record a learning", fields: []string{"text", "skills"},
		run: func(h *Handler, r *http.Request, f *form, x experiments.Experiment, m experiments.Meta) (experiments.Experiment, error) {
			return h.svc.RecordLearning(r.Context(), m, x.ID, experiments.RecordLearning{
				Text: f.Value("text"), Skills: splitList(f.Value("skills"), ","),
			})
		},
	},
}

// reviseExperiment sends only the fields that differ from the current
// state, so that the history records what actually changed.
func reviseExperiment(h *Handler, r *http.Request, f *form, x experiments.Experiment, m experiments.Meta) (experiments.Experiment, error) {
	var cmd experiments.ReviseExperiment
	str := func(name, cur string, dst **string) {
		if v := f.Value(name); v != cur {
			*dst = &v
		}
	}
	str("title", x.Title, &cmd.Title)
	str("kind", x.Kind, &cmd.Kind)
	str("hypothesis", x.Hypothesis, &cmd.Hypothesis)
	str("success_metric", x.SuccessMetric, &cmd.SuccessMetric)
	str("success_criteria", x.SuccessCriteria, &cmd.SuccessCriteria)
	str("owner", x.Owner, &cmd.Owner)
	str("visibility", x.Visibility, &cmd.Visibility)
	if tags := splitList(f.Value("tags"), ","); !slices.Equal(tags, x.Tags) {
		tags = append([]string{}, tags...)
		cmd.Tags = &tags
	}
	cost := formCost(f)
	var cur events.Cost
	if x.Cost != nil {
		cur = *x.Cost
	}
	if cost != nil && *cost != cur || cost == nil && x.Cost != nil {
		if cost == nil {
			cost = &events.Cost{}
		}
		cmd.Cost = cost
	}
	if f.Invalid() {
		return experiments.Experiment{}, nil
	}
	return h.svc.ReviseExperiment(r.Context(), m, x.ID, cmd)
}

// formCost reads the optional cost fields; nil when both are empty.
func formCost(f *form) *events.Cost {
	if strings.TrimSpace(f.Value("person_days")) == "" && strings.TrimSpace(f.Value("spend")) == "" {
		return nil
	}
	return &events.Cost{PersonDays: parseNumber(f, "person_days"), Spend: parseNumber(f, "spend")}
}

func (h *Handler) showExperimentCommand(c experimentCommand) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x, err := h.commandTarget(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if p := h.principal(r); !p.CanWriteExperiment(x.Team) {
			h.fail(w, r, notAllowed(p, "change experiments of team "+x.Team))
			return
		}
		f := withKey(newForm(nil))
		if c.prefill != nil {
			c.prefill(f, x)
		}
		h.render(w, r, http.StatusOK, "experiment_command", page{Title: c.heading + ": " + x.Title, Nav: "experiments", Data: h.commandData(x, f, c)})
	}
}

func (h *Handler) postExperimentCommand(c experimentCommand) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x, err := h.commandTarget(r)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		f, status := h.readForm(w, r)
		if status == http.StatusOK {
			var done bool
			done, status = h.submit(w, r, f, c.fields, func() (string, uint64, error) {
				out, err := c.run(h, r, f, x, f.meta)
				return "/experiments/" + x.ID, out.Position, err
			})
			if done {
				return
			}
		}
		withKey(f)
		h.render(w, r, status, "experiment_command", page{Title: c.heading + ": " + x.Title, Nav: "experiments", Data: h.commandData(x, f, c)})
	}
}

// commandTarget loads the experiment a form is about, as the viewer may
// see it.
func (h *Handler) commandTarget(r *http.Request) (experiments.Experiment, error) {
	id, err := pathID(r)
	if err != nil {
		return experiments.Experiment{}, err
	}
	return h.queries.GetExperiment(r.Context(), h.viewer(r), id)
}

// registerData is what the registration form renders.
type registerData struct {
	Form                *form
	Kinds, Visibilities []option
	Teams               []string
	// Tried is the "has this been tried?" panel.
	Tried triedData
}

var registerFields = []string{"team", "title", "kind", "hypothesis", "success_metric", "success_criteria", "owner", "tags", "builds_on", "visibility", "person_days", "spend"}

func (h *Handler) showRegister(w http.ResponseWriter, r *http.Request) {
	p := h.principal(r)
	if !writesExperiments(p) {
		h.fail(w, r, notAllowed(p, "register experiments"))
		return
	}
	f := withKey(newForm(nil))
	f.Values.Set("visibility", experiments.VisibilityOrg)
	q := r.URL.Query()
	if ups := q["builds_on"]; len(ups) > 0 {
		f.Values.Set("builds_on", strings.Join(ups, ", "))
		// A follow-up usually belongs to the same team as what it follows.
		if x, err := h.queries.GetExperiment(r.Context(), h.viewer(r), ups[0]); err == nil {
			f.Values.Set("team", x.Team)
		}
	}
	if t := q.Get("team"); t != "" {
		f.Values.Set("team", t)
	}
	f.Values.Set("team", teamFor(p, f.Value("team"), p.CanWriteExperiment))
	h.render(w, r, http.StatusOK, "experiment_new", page{Title: "Register an experiment", Nav: "new",
		Data: registerData{Form: f, Kinds: kindOptions, Visibilities: visibilityOptions}})
}

func (h *Handler) postRegister(w http.ResponseWriter, r *http.Request) {
	f, status := h.readForm(w, r)
	if status == http.StatusOK && h.checkTried(w, r, f) {
		return
	}
	if status == http.StatusOK {
		cmd := experiments.RegisterExperiment{
			Team: strings.TrimSpace(f.Value("team")), Title: f.Value("title"), Kind: f.Value("kind"),
			Hypothesis: f.Value("hypothesis"), SuccessMetric: f.Value("success_metric"),
			SuccessCriteria: f.Value("success_criteria"), Owner: f.Value("owner"),
			Tags: splitList(f.Value("tags"), ","), BuildsOn: splitList(f.Value("builds_on"), ", \n"),
			Visibility: f.Value("visibility"), Cost: formCost(f),
		}
		var done bool
		done, status = h.submit(w, r, f, registerFields, func() (string, uint64, error) {
			x, err := h.svc.RegisterExperiment(r.Context(), f.meta, cmd)
			return "/experiments/" + x.ID, x.Position, err
		})
		if done {
			return
		}
	}
	withKey(f)
	d := registerData{Form: f, Kinds: kindOptions, Visibilities: visibilityOptions}
	var err error
	if d.Tried, err = h.tried(r, triedText(f)); err != nil {
		// The form and its errors matter more than the panel.
		h.log.Warn("find what was tried for the registration form", slog.Any("err", err))
	}
	h.render(w, r, status, "experiment_new", page{Title: "Register an experiment", Nav: "new", Data: d})
}
