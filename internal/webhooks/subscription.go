package webhooks

import (
	"fmt"
	"slices"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// Delivery formats.
const (
	// FormatCloudEvents posts the CloudEvent as the stream holds it, in
	// structured JSON mode.
	FormatCloudEvents = "cloudevents"
	// FormatChat posts {"text": ...} to a chat incoming webhook, for an
	// experiment that concluded and for a failure that fed an innovation.
	FormatChat = "chat"
)

// Subscription statuses.
const (
	StatusActive  = "active"
	StatusPaused  = "paused"
	StatusDeleted = "deleted"
)

// Subscription is the state of one webhook subscription, folded from its
// events.
type Subscription struct {
	ID string `json:"id"`
	// Team is the team the subscription belongs to: the team of its
	// events, and who besides the owner and admins may manage it.
	Team       string           `json:"team"`
	Owner      string           `json:"owner"`
	OwnerRole  experiments.Role `json:"owner_role"`
	OwnerTeams []string         `json:"owner_teams"`
	TargetURL  string           `json:"target_url"`
	Events     []string         `json:"events"`
	// Teams narrow deliveries to events of these teams; empty means every
	// team the owner may see.
	Teams          []string `json:"teams"`
	Format         string   `json:"format"`
	AllowPlainHTTP bool     `json:"allow_plain_http"`
	SecretRotation int      `json:"secret_rotation"`
	Status         string   `json:"status"`
	// PauseReason says why a paused subscription was paused.
	PauseReason string `json:"pause_reason,omitempty"`
	// PausedAutomatically is set when the delivery engine paused it.
	PausedAutomatically bool      `json:"paused_automatically,omitempty"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
	// Version counts the subscription's events; it is the resource's ETag.
	Version uint64 `json:"version"`
	// Position is the stream sequence of its last event.
	Position uint64 `json:"position"`
	// CreatedPosition is the stream sequence of webhook.created: delivery
	// starts with the event after it.
	CreatedPosition uint64 `json:"created_position"`

	// replay is the latest replay asked for, and replayAt the position of
	// the event that asked: a worker compares it with the marker on the
	// consumer to know whether the replay is done.
	replay   *events.WebhookReplay
	replayAt uint64
}

// owner returns the principal deliveries are filtered for.
func (s *Subscription) owner() *experiments.Principal {
	return &experiments.Principal{Name: s.Owner, Role: s.OwnerRole, Teams: slices.Clone(s.OwnerTeams)}
}

func (s *Subscription) exists() bool { return s.Version > 0 }

// apply folds one recorded event into s. payload is r's data as
// events.Payload decodes it.
func (s *Subscription) apply(r *events.Recorded, payload any) error {
	switch p := payload.(type) {
	case *events.WebhookCreatedV1:
		*s = Subscription{
			ID: r.Subject, Team: r.Team, Owner: p.Owner, OwnerRole: experiments.Role(p.OwnerRole),
			OwnerTeams: nonNil(p.OwnerTeams), TargetURL: p.TargetURL, Events: nonNil(p.Events), Teams: nonNil(p.Teams),
			Format: p.Format, AllowPlainHTTP: p.AllowPlainHTTP, SecretRotation: p.SecretRotation,
			Status: StatusActive, CreatedAt: r.Time.UTC(), CreatedPosition: r.Sequence,
		}
	case *events.WebhookChangedV1:
		s.change(p, r.Sequence)
	case *events.WebhookPausedV1:
		s.Status, s.PauseReason, s.PausedAutomatically = StatusPaused, p.Reason, p.Automatic
	case *events.WebhookResumedV1:
		s.Status, s.PauseReason, s.PausedAutomatically = StatusActive, "", false
	case *events.WebhookDeletedV1:
		s.Status = StatusDeleted
	default:
		return fmt.Errorf("webhook %s event %d: %s is not a webhook event", r.Subject, r.Sequence, r.Type)
	}
	s.Version++
	s.Position = r.Sequence
	s.UpdatedAt = r.Time.UTC()
	return nil
}

func (s *Subscription) change(p *events.WebhookChangedV1, seq uint64) {
	set(&s.TargetURL, p.TargetURL)
	set(&s.Format, p.Format)
	set(&s.AllowPlainHTTP, p.AllowPlainHTTP)
	set(&s.SecretRotation, p.SecretRotation)
	if p.Events != nil {
		s.Events = nonNil(*p.Events)
	}
	if p.Teams != nil {
		s.Teams = nonNil(*p.Teams)
	}
	if p.Replay != nil {
		s.replay, s.replayAt = p.Replay, seq
	}
}

// fold builds a subscription from its events in stream order.
func fold(recs []events.Recorded) (Subscription, error) {
	var s Subscription
	for i := range recs {
		_, payload, err := events.Payload(&recs[i].Envelope)
		if err != nil {
			return Subscription{}, fmt.Errorf("webhook %s event %d: %w", recs[i].Subject, recs[i].Sequence, err)
		}
		if err := s.apply(&recs[i], payload); err != nil {
			return Subscription{}, err
		}
	}
	return s, nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
