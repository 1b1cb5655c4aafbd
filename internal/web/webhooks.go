package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/webhooks"
)

// The webhook pages manage subscriptions through the webhook engine,
// which decides who sees and changes which (admins every one, members and
// leads their teams'). Viewers get no page at all, as in the JSON API: a
// target URL can be a credential. A subscription's signing secret is
// shown once, on the page a create or a rotation answers with, which is
// why those two forms answer with the page rather than redirecting to it.

// managesWebhooks reports whether p may manage some webhook subscription.
func managesWebhooks(p *experiments.Principal) bool {
	return p == nil || (p.Role != experiments.RoleViewer && p.Role != "")
}

func isAdmin(p *experiments.Principal) bool { return p == nil || p.Role == experiments.RoleAdmin }

// webhookEvents are the event types a subscription can name, in the
// catalogue's order: webhook events are never delivered.
func webhookEvents() []string {
	var out []string
	for _, n := range events.Names {
		if !strings.HasPrefix(n, events.AggregateWebhook+".") {
			out = append(out, n)
		}
	}
	return out
}

var webhookFields = []string{"team", "target_url", "events", "teams", "format", "allow_plain_http"}

// webhooksUsable answers the request itself, and returns false, when the
// server has no webhook engine or the principal may not manage webhooks.
func (h *Handler) webhooksUsable(w http.ResponseWriter, r *http.Request) bool {
	if h.hooks == nil {
		h.render(w, r, http.StatusServiceUnavailable, "error", page{Title: "Webhooks are off", Data: errorPage{
			Heading: "Webhooks are off", Message: "This server delivers no webhooks: it was started without WEBHOOK_KEY."}})
		return false
	}
	if p := h.principal(r); !managesWebhooks(p) {
		h.fail(w, r, notAllowed(p, "manage webhooks"))
		return false
	}
	return true
}

type webhooksData struct {
	Items []webhooks.Subscription
}

func (h *Handler) handleWebhooks(w http.ResponseWriter, r *http.Request) {
	if !h.webhooksUsable(w, r) {
		return
	}
	items := h.hooks.List(r.Context(), h.principal(r))
	h.render(w, r, http.StatusOK, "webhooks", page{Title: "Webhooks", Nav: "webhooks", Data: webhooksData{Items: items}})
}

type newWebhookData struct {
	Form    *form
	Events  []string
	Formats []option
	IsAdmin bool
}

var formatOptions = []option{
	{webhooks.FormatCloudEvents, "CloudEvents (the event as JSON)"},
	{webhooks.FormatChat, "Chat message (for a chat channel's incoming webhook)"},
}

func (h *Handler) showNewWebhook(w http.ResponseWriter, r *http.Request) {
	if !h.webhooksUsable(w, r) {
		return
	}
	f := withKey(newForm(nil))
	if p := h.principal(r); p != nil && len(p.Teams) > 0 {
		f.Values.Set("team", p.Teams[0])
	}
	f.Values.Set("format", webhooks.FormatCloudEvents)
	h.renderNewWebhook(w, r, http.StatusOK, f)
}

func (h *Handler) renderNewWebhook(w http.ResponseWriter, r *http.Request, status int, f *form) {
	h.render(w, r, status, "webhook_new", page{Title: "New webhook", Nav: "webhooks",
		Data: newWebhookData{Form: f, Events: webhookEvents(), Formats: formatOptions, IsAdmin: isAdmin(h.principal(r))}})
}

func (h *Handler) postNewWebhook(w http.ResponseWriter, r *http.Request) {
	if !h.webhooksUsable(w, r) {
		return
	}
	f, status := h.readForm(w, r)
	if status == http.StatusOK {
		res, err := h.hooks.Create(r.Context(), f.meta, webhooks.CreateInput{
			Team: strings.TrimSpace(f.Value("team")), TargetURL: strings.TrimSpace(f.Value("target_url")),
			Events: f.Values["events"], Teams: splitList(f.Value("teams"), ",\n"),
			Format: f.Value("format"), AllowPlainHTTP: f.Value("allow_plain_http") != "",
		})
		if err == nil {
			h.renderWebhook(w, r, http.StatusCreated, res.Subscription, res.Secret, nil)
			return
		}
		status = h.failCommand(r, f, webhookFields, err)
	}
	h.renderNewWebhook(w, r, status, f)
}

type webhookData struct {
	Sub webhooks.Subscription
	// Secret is set once, after a create or a rotation.
	Secret   string
	Attempts []webhooks.Attempt
	IsAdmin  bool
	// Form carries the pause and replay forms' values and errors.
	Form *form
}

func (h *Handler) handleWebhook(w http.ResponseWriter, r *http.Request) {
	if !h.webhooksUsable(w, r) {
		return
	}
	sub, err := h.hooks.Get(r.Context(), h.principal(r), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.renderWebhook(w, r, http.StatusOK, sub, "", nil)
}

// renderWebhook shows a subscription with its latest delivery attempts.
func (h *Handler) renderWebhook(w http.ResponseWriter, r *http.Request, status int, sub webhooks.Subscription, secret string, f *form) {
	attempts, err := h.hooks.Deliveries(r.Context(), sub.ID, 50)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if f == nil {
		f = newForm(nil)
	}
	h.render(w, r, status, "webhook", page{Title: "Webhook to " + sub.TargetURL, Nav: "webhooks", Data: webhookData{
		Sub: sub, Secret: secret, Attempts: attempts, IsAdmin: isAdmin(h.principal(r)), Form: f}})
}

// webhookCommand serves one button of a subscription's page: it sends
// the command and redirects to the page, or shows the page again with
// the refusal.
func (h *Handler) webhookCommand(send func(r *http.Request, f *form, id string) (webhooks.Subscription, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.webhooksUsable(w, r) {
			return
		}
		id := r.PathValue("id")
		f, status := h.readForm(w, r)
		if status == http.StatusOK {
			var done bool
			done, status = h.submit(w, r, f, []string{"reason", "from_position", "from_time"}, func() (string, uint64, error) {
				sub, err := send(r, f, id)
				if sub.Status == webhooks.StatusDeleted {
					return "/webhooks", sub.Position, err
				}
				return "/webhooks/" + id, sub.Position, err
			})
			if done {
				return
			}
		}
		sub, err := h.hooks.Get(r.Context(), h.principal(r), id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		h.renderWebhook(w, r, status, sub, "", f)
	}
}

func (h *Handler) postPauseWebhook(r *http.Request, f *form, id string) (webhooks.Subscription, error) {
	return h.hooks.Pause(r.Context(), f.meta, id, f.Value("reason"))
}

func (h *Handler) postResumeWebhook(r *http.Request, f *form, id string) (webhooks.Subscription, error) {
	return h.hooks.Resume(r.Context(), f.meta, id)
}

func (h *Handler) postDeleteWebhook(r *http.Request, f *form, id string) (webhooks.Subscription, error) {
	return h.hooks.Delete(r.Context(), f.meta, id)
}

func (h *Handler) postReplayWebhook(r *http.Request, f *form, id string) (webhooks.Subscription, error) {
	var in webhooks.ReplayInput
	if v := strings.TrimSpace(f.Value("from_position")); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return webhooks.Subscription{}, experiments.Invalid("from_position", "must be a stream position (a whole number from 1)")
		}
		in.FromPosition = n
	}
	if v := strings.TrimSpace(f.Value("from_time")); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return webhooks.Subscription{}, experiments.Invalid("from_time", "must be a time like 2026-03-01T09:00:00Z")
		}
		in.FromTime = &t
	}
	return h.hooks.Replay(r.Context(), f.meta, id, in)
}

// postRotateWebhook makes a new secret and answers with the page that
// shows it, once.
func (h *Handler) postRotateWebhook(w http.ResponseWriter, r *http.Request) {
	if !h.webhooksUsable(w, r) {
		return
	}
	id := r.PathValue("id")
	f, status := h.readForm(w, r)
	if status == http.StatusOK {
		res, err := h.hooks.Change(r.Context(), f.meta, id, webhooks.ChangeInput{RotateSecret: true})
		if err == nil {
			h.renderWebhook(w, r, http.StatusOK, res.Subscription, res.Secret, nil)
			return
		}
		status = h.failCommand(r, f, nil, err)
	}
	sub, err := h.hooks.Get(r.Context(), h.principal(r), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.renderWebhook(w, r, status, sub, "", f)
}
