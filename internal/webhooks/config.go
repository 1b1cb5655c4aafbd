package webhooks

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// VisibleFunc reports whether owner may see the event, so that it may be
// delivered to owner's subscription. An error is retried like a failed
// delivery: deciding wrongly either way is worse than waiting.
type VisibleFunc func(ctx context.Context, owner *experiments.Principal, ev events.Recorded) (bool, error)

// StepsFunc returns how many steps of lineage lie between a failed
// experiment and an innovation it fed (1 when the innovation names it
// directly), for the chat notification.
type StepsFunc func(ctx context.Context, experimentID, innovationID string) (int, error)

// DefaultDeliveriesStream is the stream that records delivery attempts.
const DefaultDeliveriesStream = "WEBHOOK_DELIVERIES"

// Config configures a Manager.
type Config struct {
	// Store is the event store: subscriptions' events are appended to it
	// and deliveries read its stream. Required.
	Store *events.Store
	// ServerKey derives every subscription's signing secret; at least
	// MinServerKey bytes. Changing it changes every secret. Required.
	ServerKey []byte
	// Visible decides whether a subscription's owner may see an event.
	// Required; StreamVisibility is one that reads the stream.
	Visible VisibleFunc
	// Steps counts the lineage steps in the chat notification of a
	// failure that fed an innovation; the count is left out when nil.
	Steps StepsFunc
	// BaseURL is where the web pages are served, for links in chat
	// notifications (BaseURL + "/experiments/<id>"); no links when empty.
	BaseURL string
	// AllowPrivateTargets lets deliveries reach loopback, private and
	// link-local addresses: for tests and receivers on premises.
	AllowPrivateTargets bool
	// TLSConfig configures the connections to receivers, for instance to
	// trust a private CA's certificates on premises; the system's roots
	// when nil.
	TLSConfig *tls.Config
	// AttemptTimeout bounds one delivery attempt; 10s by default.
	AttemptTimeout time.Duration
	// MaxResponseBytes is how much of a receiver's answer is read; 64 KiB
	// by default.
	MaxResponseBytes int64
	// BackoffBase is the wait before the first retry; each retry doubles
	// it, with jitter, up to BackoffMax. 1s and 10m by default.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// RetryAfterMax caps how long a receiver's Retry-After is honoured;
	// 1h by default.
	RetryAfterMax time.Duration
	// PauseAfter is how long deliveries to a subscription may keep failing
	// before the subscription is paused; 24h by default.
	PauseAfter time.Duration
	// AckWait is how long the broker waits before it hands an event whose
	// worker died to the next worker; 30s by default.
	AckWait time.Duration
	// DeliveriesStream records every attempt; DefaultDeliveriesStream by
	// default. DeliveriesMaxAge is how long attempts are kept, 30 days by
	// default: they are operational records, not the system of record.
	DeliveriesStream string
	DeliveriesMaxAge time.Duration
	// Replicas is how many servers keep the deliveries stream; 1 by
	// default.
	Replicas int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewID returns subscription ids; ULIDs when nil.
	NewID func() string
	// Logger logs failed deliveries and worker restarts; slog.Default
	// when nil.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AttemptTimeout, 10*time.Second)
	def(&c.BackoffBase, time.Second)
	def(&c.BackoffMax, 10*time.Minute)
	def(&c.RetryAfterMax, time.Hour)
	def(&c.PauseAfter, 24*time.Hour)
	def(&c.AckWait, 30*time.Second)
	def(&c.DeliveriesMaxAge, 30*24*time.Hour)
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 64 << 10
	}
	if c.DeliveriesStream == "" {
		c.DeliveriesStream = DefaultDeliveriesStream
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		// ulid.Make is monotonic within a millisecond and safe for
		// concurrent use.
		c.NewID = func() string { return ulid.Make().String() }
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
}

func (c *Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("webhooks: Config.Store is required"))
	}
	if len(c.ServerKey) < MinServerKey {
		errs = append(errs, errors.New("webhooks: Config.ServerKey must be at least 32 bytes"))
	}
	if c.Visible == nil {
		errs = append(errs, errors.New("webhooks: Config.Visible is required"))
	}
	// A slice, not a map, so that the message lists fields in a stable
	// order.
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"AttemptTimeout", c.AttemptTimeout}, {"BackoffBase", c.BackoffBase}, {"BackoffMax", c.BackoffMax},
		{"RetryAfterMax", c.RetryAfterMax}, {"PauseAfter", c.PauseAfter}, {"DeliveriesMaxAge", c.DeliveriesMaxAge},
	} {
		if f.d < 0 {
			errs = append(errs, errors.New("webhooks: Config."+f.name+" must not be negative"))
		}
	}
	if c.BackoffMax < c.BackoffBase {
		errs = append(errs, errors.New("webhooks: Config.BackoffMax must not be shorter than BackoffBase"))
	}
	if c.AckWait < time.Second {
		errs = append(errs, errors.New("webhooks: Config.AckWait must be at least a second"))
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, errors.New("webhooks: Config.MaxResponseBytes must not be negative"))
	}
	return errors.Join(errs...)
}
