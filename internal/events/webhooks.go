package events

import "time"

// AggregateWebhook is the aggregate name of a webhook subscription.
const AggregateWebhook = "webhook"

// Event names of a webhook subscription's life.
const (
	WebhookCreated = "webhook.created"
	WebhookChanged = "webhook.changed"
	WebhookPaused  = "webhook.paused"
	WebhookResumed = "webhook.resumed"
	WebhookDeleted = "webhook.deleted"
)

// WebhookCreatedV1 is the payload of webhook.created.v1. It carries no
// signing secret: the secret is derived from a server key, the
// subscription id and SecretRotation, so that the stream never holds it
// and a rebuild from the stream loses nothing.
type WebhookCreatedV1 struct {
	// Owner is the principal that created the subscription; deliveries
	// show only what the owner may see.
	Owner string `json:"owner"`
	// OwnerRole is the owner's role when the subscription was created.
	OwnerRole string `json:"owner_role"`
	// OwnerTeams are the owner's teams when the subscription was created.
	OwnerTeams []string `json:"owner_teams"`
	// TargetURL is where deliveries are posted.
	TargetURL string `json:"target_url"`
	// Events are the catalogue names delivered.
	Events []string `json:"events"`
	// Teams narrow deliveries to events of these teams; empty means every
	// team the owner may see.
	Teams []string `json:"teams"`
	// Format is "cloudevents" or "chat".
	Format string `json:"format"`
	// AllowPlainHTTP lets the target be http:// (set by admins only).
	AllowPlainHTTP bool `json:"allow_plain_http"`
	// SecretRotation numbers the signing secret, 1 at creation.
	SecretRotation int `json:"secret_rotation"`
}

// WebhookReplay says where deliveries restart: at a stream position, or
// at the first event the stream received at or after a time.
type WebhookReplay struct {
	FromPosition uint64     `json:"from_position,omitempty"`
	FromTime     *time.Time `json:"from_time,omitempty"`
}

// WebhookChangedV1 is the payload of webhook.changed.v1: the members
// present changed, the others are kept. A new SecretRotation rotates the
// signing secret; Replay moves the delivery position.
type WebhookChangedV1 struct {
	TargetURL      *string        `json:"target_url,omitempty"`
	Events         *[]string      `json:"events,omitempty"`
	Teams          *[]string      `json:"teams,omitempty"`
	Format         *string        `json:"format,omitempty"`
	AllowPlainHTTP *bool          `json:"allow_plain_http,omitempty"`
	SecretRotation *int           `json:"secret_rotation,omitempty"`
	Replay         *WebhookReplay `json:"replay,omitempty"`
}

// WebhookPausedV1 is the payload of webhook.paused.v1. Deliveries stop
// and the subscription keeps its position until it is resumed.
type WebhookPausedV1 struct {
	// Reason says why: a user's note, or the failures that made the
	// delivery engine give up.
	Reason string `json:"reason"`
	// Automatic is set when the delivery engine paused the subscription
	// after repeated failures, rather than a user.
	Automatic bool `json:"automatic"`
}

// WebhookResumedV1 is the payload of webhook.resumed.v1: deliveries go on
// from where they stopped.
type WebhookResumedV1 struct{}

// WebhookDeletedV1 is the payload of webhook.deleted.v1: no more
// deliveries; the subscription's events stay in the stream.
type WebhookDeletedV1 struct{}
