package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// Limits on a subscription's fields.
const (
	maxEvents = 50
	maxTeams  = 50
	maxReason = 2000
)

// engineActor is the actor of the events the delivery engine writes
// itself (a pause after repeated failures).
const engineActor = "webhook-engine"

// chatEvents are the events the chat format has a notification for.
var chatEvents = []string{events.ExperimentConcluded, events.InnovationLinked}

var teamPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// CreateInput is what a new subscription is made of.
type CreateInput struct {
	// Team owns the subscription; the principal's first team when empty.
	Team      string   `json:"team,omitempty"`
	TargetURL string   `json:"target_url"`
	Events    []string `json:"events"`
	Teams     []string `json:"teams,omitempty"`
	// Format is FormatCloudEvents (the default) or FormatChat.
	Format         string `json:"format,omitempty"`
	AllowPlainHTTP bool   `json:"allow_plain_http,omitempty"`
}

// ChangeInput changes the fields it sets; RotateSecret makes a new
// signing secret, which Change returns once.
type ChangeInput struct {
	TargetURL      *string   `json:"target_url,omitempty"`
	Events         *[]string `json:"events,omitempty"`
	Teams          *[]string `json:"teams,omitempty"`
	Format         *string   `json:"format,omitempty"`
	AllowPlainHTTP *bool     `json:"allow_plain_http,omitempty"`
	RotateSecret   bool      `json:"rotate_secret,omitempty"`
}

// ReplayInput says where deliveries restart: exactly one of a stream
// position or a time.
type ReplayInput struct {
	FromPosition uint64     `json:"from_position,omitempty"`
	FromTime     *time.Time `json:"from_time,omitempty"`
}

// Result is a subscription after a command. Secret is set, in clear, only
// by Create and by a Change that rotated it: it is shown once, never
// stored, and derived again for each delivery.
type Result struct {
	Subscription
	Secret string `json:"secret,omitempty"`
}

// Create validates in and appends webhook.created. Bad input fails with
// an *experiments.Error of CodeInvalid naming the field, and appends
// nothing.
func (m *Manager) Create(ctx context.Context, meta experiments.Meta, in CreateInput) (Result, error) {
	p := meta.Principal
	if p != nil && p.Role == experiments.RoleViewer {
		return Result{}, forbidden("", "%s may not create webhooks", p.Name)
	}
	team := in.Team
	if team == "" && p != nil && len(p.Teams) > 0 {
		team = p.Teams[0]
	}
	switch {
	case team == "":
		return Result{}, experiments.Invalid("team", "is required")
	case !teamPattern.MatchString(team):
		return Result{}, experiments.Invalid("team", "%q is not a team name", team)
	case !isAdmin(p) && !p.InTeam(team):
		return Result{}, forbidden("team", "%s may not create webhooks for team %s", p.Name, team)
	}
	if in.AllowPlainHTTP && !isAdmin(p) {
		return Result{}, forbidden("allow_plain_http", "only admins may allow plain http")
	}
	format := orDefault(in.Format, FormatCloudEvents)
	evs, err := m.checkFields(in.TargetURL, in.Events, in.Teams, format, in.AllowPlainHTTP)
	if err != nil {
		return Result{}, err
	}
	owner := ownerOf(p, team)
	payload := &events.WebhookCreatedV1{
		Owner: owner.Name, OwnerRole: string(owner.Role), OwnerTeams: nonNil(owner.Teams), TargetURL: in.TargetURL,
		Events: evs, Teams: nonNil(slices.Clone(in.Teams)), Format: format, AllowPlainHTTP: in.AllowPlainHTTP, SecretRotation: 1,
	}
	id := m.cfg.NewID()
	env, err := m.envelope(id, team, meta, events.WebhookCreated, payload)
	if err != nil {
		return Result{}, err
	}
	res, err := m.cfg.Store.Append(ctx, events.AggregateWebhook, id, 0, []events.Envelope{env}, meta.IdempotencyKey)
	if err != nil {
		return Result{}, err
	}
	sub, err := m.load(ctx, res.ID)
	if err != nil {
		return Result{}, err
	}
	return Result{Subscription: sub, Secret: m.secret(sub)}, nil
}

// Change validates in against the subscription and appends
// webhook.changed with what changed.
func (m *Manager) Change(ctx context.Context, meta experiments.Meta, id string, in ChangeInput) (Result, error) {
	sub, err := m.write(ctx, meta, id, func(s Subscription) (string, any, error) {
		if in.AllowPlainHTTP != nil && *in.AllowPlainHTTP && !isAdmin(meta.Principal) {
			return "", nil, forbidden("allow_plain_http", "only admins may allow plain http")
		}
		next := s
		next.change(&events.WebhookChangedV1{
			TargetURL: in.TargetURL, Events: in.Events, Teams: in.Teams, Format: in.Format, AllowPlainHTTP: in.AllowPlainHTTP,
		}, 0)
		if in.TargetURL != nil && strings.HasPrefix(*in.TargetURL, "http:") && !isAdmin(meta.Principal) {
			// An admin allowed plain http for one target, not for any.
			return "", nil, forbidden("target_url", "only admins may set a plain http target")
		}
		evs, err := m.checkFields(next.TargetURL, next.Events, next.Teams, next.Format, next.AllowPlainHTTP)
		if err != nil {
			return "", nil, err
		}
		p := &events.WebhookChangedV1{TargetURL: in.TargetURL, Teams: in.Teams, Format: in.Format, AllowPlainHTTP: in.AllowPlainHTTP}
		if in.Events != nil {
			p.Events = &evs
		}
		if in.RotateSecret {
			p.SecretRotation = ptr(s.SecretRotation + 1)
		}
		if *p == (events.WebhookChangedV1{}) {
			return "", nil, nil
		}
		return events.WebhookChanged, p, nil
	})
	if err != nil {
		return Result{}, err
	}
	res := Result{Subscription: sub}
	if in.RotateSecret {
		res.Secret = m.secret(sub)
	}
	return res, nil
}

// Pause stops deliveries; the subscription keeps its position.
func (m *Manager) Pause(ctx context.Context, meta experiments.Meta, id, reason string) (Subscription, error) {
	reason = strings.TrimSpace(reason)
	if len(reason) > maxReason {
		return Subscription{}, experiments.Invalid("reason", "is longer than %d characters", maxReason)
	}
	if reason == "" {
		reason = "paused by " + orDefault(meta.Actor, "a user")
	}
	return m.write(ctx, meta, id, func(s Subscription) (string, any, error) {
		if s.Status == StatusPaused {
			return "", nil, nil
		}
		return events.WebhookPaused, &events.WebhookPausedV1{Reason: reason}, nil
	})
}

// Resume restarts deliveries of a paused subscription where they stopped.
func (m *Manager) Resume(ctx context.Context, meta experiments.Meta, id string) (Subscription, error) {
	return m.write(ctx, meta, id, func(s Subscription) (string, any, error) {
		if s.Status == StatusActive {
			return "", nil, nil
		}
		return events.WebhookResumed, &events.WebhookResumedV1{}, nil
	})
}

// Delete ends a subscription: its consumer is removed, its events stay.
func (m *Manager) Delete(ctx context.Context, meta experiments.Meta, id string) (Subscription, error) {
	return m.write(ctx, meta, id, func(Subscription) (string, any, error) {
		return events.WebhookDeleted, &events.WebhookDeletedV1{}, nil
	})
}

// Replay makes the subscription deliver again from a stream position, or
// from the first event the stream received at or after a time. Events
// are still filtered by type, team and visibility. Only admins may
// replay.
func (m *Manager) Replay(ctx context.Context, meta experiments.Meta, id string, in ReplayInput) (Subscription, error) {
	switch {
	case in.FromPosition == 0 && (in.FromTime == nil || in.FromTime.IsZero()):
		return Subscription{}, experiments.Invalid("from_position", "from_position or from_time is required")
	case in.FromPosition != 0 && in.FromTime != nil:
		return Subscription{}, experiments.Invalid("from_time", "give from_position or from_time, not both")
	}
	replay := &events.WebhookReplay{FromPosition: in.FromPosition}
	if in.FromTime != nil {
		replay.FromTime = ptr(in.FromTime.UTC())
	}
	return m.write(ctx, meta, id, func(Subscription) (string, any, error) {
		// A replay sends history again to a receiver, past events of
		// every team the owner sees included: an admin's decision.
		if !isAdmin(meta.Principal) {
			return "", nil, forbidden("", "only admins may replay webhook deliveries")
		}
		return events.WebhookChanged, &events.WebhookChangedV1{Replay: replay}, nil
	})
}

// checkFields validates a subscription's delivery fields and returns its
// event list without repeats.
func (m *Manager) checkFields(target string, evs, teams []string, format string, allowPlain bool) ([]string, error) {
	if err := checkTarget(target, allowPlain, m.cfg.AllowPrivateTargets); err != nil {
		return nil, err
	}
	if format != FormatCloudEvents && format != FormatChat {
		return nil, experiments.Invalid("format", "%q is not one of %s, %s", format, FormatCloudEvents, FormatChat)
	}
	out, err := checkEvents(evs)
	if err != nil {
		return nil, err
	}
	if format == FormatChat && !slices.ContainsFunc(out, func(e string) bool { return slices.Contains(chatEvents, e) }) {
		return nil, experiments.Invalid("events", "the chat format sends only %s", strings.Join(chatEvents, " and "))
	}
	if len(teams) > maxTeams {
		return nil, experiments.Invalid("teams", "has more than %d teams", maxTeams)
	}
	for _, t := range teams {
		if !teamPattern.MatchString(t) {
			return nil, experiments.Invalid("teams", "%q is not a team name", t)
		}
	}
	return out, nil
}

func checkEvents(evs []string) ([]string, error) {
	if len(evs) == 0 {
		return nil, experiments.Invalid("events", "name at least one event type")
	}
	if len(evs) > maxEvents {
		return nil, experiments.Invalid("events", "has more than %d event types", maxEvents)
	}
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		// Webhook events are not delivered by webhooks: they carry other
		// subscriptions' targets, which can be credentials.
		if !slices.Contains(events.Names, e) || strings.HasPrefix(e, events.AggregateWebhook+".") {
			return nil, experiments.Invalid("events", "%q is not an event type that webhooks deliver", e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// write runs load, decide, append for one subscription. decide returns
// the event to append, or no name when nothing changes. A lost race is
// decided again on fresh state, unless the caller named the version it
// expects (If-Match).
func (m *Manager) write(ctx context.Context, meta experiments.Meta, id string, decide func(Subscription) (string, any, error)) (Subscription, error) {
	for attempt := 1; ; attempt++ {
		s, err := m.load(ctx, id)
		if err != nil {
			return Subscription{}, err
		}
		if err := authorize(meta.Principal, s); err != nil {
			return Subscription{}, err
		}
		if meta.IfMatch != nil && *meta.IfMatch != s.Version {
			return Subscription{}, &experiments.Error{Code: experiments.CodePrecondition,
				Message: fmt.Sprintf("webhook %s is at version %d, not %d", id, s.Version, *meta.IfMatch)}
		}
		name, payload, err := decide(s)
		if err != nil || name == "" {
			return s, err
		}
		env, err := m.envelope(id, s.Team, meta, name, payload)
		if err != nil {
			return Subscription{}, err
		}
		_, err = m.cfg.Store.Append(ctx, events.AggregateWebhook, id, s.Position, []events.Envelope{env}, meta.IdempotencyKey)
		switch {
		case errors.Is(err, events.ErrConflict) && meta.IfMatch == nil && attempt < 8:
			continue
		case errors.Is(err, events.ErrConflict):
			return Subscription{}, &experiments.Error{Code: experiments.CodeConflict, Message: fmt.Sprintf("webhook %s kept changing under this command; try again", id)}
		case err != nil:
			return Subscription{}, err
		}
		return m.read(ctx, id)
	}
}

// load folds a subscription from the stream; a deleted one is not found.
func (m *Manager) load(ctx context.Context, id string) (Subscription, error) {
	s, err := m.read(ctx, id)
	if err == nil && s.Status == StatusDeleted {
		return Subscription{}, notFound(id)
	}
	return s, err
}

// read folds a subscription from the stream, deleted or not.
func (m *Manager) read(ctx context.Context, id string) (Subscription, error) {
	if !experiments.ValidID(id) {
		return Subscription{}, notFound(id)
	}
	recs, err := m.cfg.Store.Load(ctx, events.AggregateWebhook, id)
	if err != nil {
		return Subscription{}, fmt.Errorf("load webhook %s: %w", id, err)
	}
	s, err := fold(recs)
	if err != nil {
		return Subscription{}, err
	}
	if !s.exists() {
		return Subscription{}, notFound(id)
	}
	return s, nil
}

func (m *Manager) envelope(id, team string, meta experiments.Meta, name string, payload any) (events.Envelope, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return events.Envelope{}, fmt.Errorf("encode %s: %w", name, err)
	}
	return events.Envelope{
		SpecVersion: events.SpecVersion, ID: m.cfg.NewID(), Source: events.Source,
		Type: events.TypeOf(name), Subject: id, Time: m.cfg.Now().UTC(),
		DataContentType: "application/json", DataSchema: events.SchemaOf(name),
		Team: team, Actor: orDefault(meta.Actor, engineActor), CorrelationID: meta.CorrelationID, CausationID: meta.CausationID,
		IdempotencyKey: meta.IdempotencyKey, Data: data,
	}, nil
}

// secret returns the subscription's current signing secret.
func (m *Manager) secret(s Subscription) string {
	return formatSecret(deriveKey(m.cfg.ServerKey, s.ID, s.SecretRotation))
}

// ownerOf returns who a subscription created by p belongs to; the
// unrestricted local user is an admin of the subscription's team.
func ownerOf(p *experiments.Principal, team string) experiments.Principal {
	if p == nil {
		return experiments.Principal{Name: "local", Role: experiments.RoleAdmin, Teams: []string{team}}
	}
	return experiments.Principal{Name: p.Name, Role: p.Role, Teams: slices.Clone(p.Teams)}
}

func isAdmin(p *experiments.Principal) bool {
	return p == nil || p.Role == experiments.RoleAdmin
}

// canSee reports whether p may see s: its owner, its team and admins may.
// Leads see every experiment but not every subscription, because a
// target URL can be a credential.
func canSee(p *experiments.Principal, s Subscription) bool {
	return isAdmin(p) || p.Name == s.Owner || p.InTeam(s.Team)
}

// authorize says whether p may change s: not found when p may not see
// it, forbidden when p only reads.
func authorize(p *experiments.Principal, s Subscription) error {
	if !canSee(p, s) {
		return notFound(s.ID)
	}
	if p != nil && p.Role == experiments.RoleViewer {
		return forbidden("", "%s may not change webhooks", p.Name)
	}
	return nil
}

func notFound(id string) error {
	return &experiments.Error{Code: experiments.CodeNotFound, Message: fmt.Sprintf("webhook %s does not exist", id)}
}

func forbidden(field, format string, args ...any) error {
	return &experiments.Error{Code: experiments.CodeForbidden, Field: field, Message: fmt.Sprintf(format, args...)}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func ptr[T any](v T) *T { return &v }
