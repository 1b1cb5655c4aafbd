package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/experiments"
)

// Outcomes of a delivery attempt.
const (
	// OutcomeDelivered: the receiver answered 2xx.
	OutcomeDelivered = "delivered"
	// OutcomeRejected: the receiver answered a status that retrying will
	// not change (a 4xx other than 429, or a redirect, which is not
	// followed); the event is passed over.
	OutcomeRejected = "rejected"
	// OutcomeFailed: a timeout, a connection error, a 5xx or a 429; the
	// event is tried again.
	OutcomeFailed = "failed"
)

// deliveriesSubjectRoot starts the subject of every attempt record:
// webhooks.deliveries.<subscription id>. It is outside tracker.>, so
// attempts never mix with the system of record.
const deliveriesSubjectRoot = "webhooks.deliveries"

// Attempt is the record of one delivery attempt.
type Attempt struct {
	SubscriptionID string    `json:"subscription_id"`
	EventID        string    `json:"event_id"`
	EventType      string    `json:"event_type"`
	Position       uint64    `json:"position"`
	Attempt        int       `json:"attempt"`
	Time           time.Time `json:"time"`
	Outcome        string    `json:"outcome"`
	StatusCode     int       `json:"status_code,omitempty"`
	// LatencyMS is how long the attempt took, in milliseconds.
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
	// RetryIn is how long until the next attempt, when there is one.
	RetryInMS float64 `json:"retry_in_ms,omitempty"`
}

// openDeliveries creates or updates the stream of attempt records. It
// has a max age: attempts are operational records, and the events they
// were for stay in TRACKER.
func (m *Manager) openDeliveries(ctx context.Context) (jetstream.Stream, error) {
	st, err := m.cfg.Store.JetStream().CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        m.cfg.DeliveriesStream,
		Description: "Webhook delivery attempts, per subscription.",
		Subjects:    []string{deliveriesSubjectRoot + ".*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      m.cfg.DeliveriesMaxAge,
		Replicas:    m.cfg.Replicas,
		AllowDirect: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", m.cfg.DeliveriesStream, err)
	}
	return st, nil
}

// record stores one attempt. A failure to record is logged, not fatal:
// the delivery itself matters more than its log.
func (m *Manager) record(ctx context.Context, a Attempt) {
	// A worker being stopped still records the attempt it made.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	b, err := json.Marshal(a)
	if err == nil {
		_, err = m.cfg.Store.JetStream().Publish(ctx, deliveriesSubjectRoot+"."+a.SubscriptionID, b)
	}
	if err != nil {
		m.cfg.Logger.Warn("webhook attempt not recorded", "subscription", a.SubscriptionID, "event", a.EventID, "err", err)
	}
}

// Deliveries returns the latest attempts of a subscription, newest first,
// at most limit of them (100 when limit is not positive). It does not
// check who asks: the caller gets the subscription first (Get), which
// does.
func (m *Manager) Deliveries(ctx context.Context, subscriptionID string, limit int) ([]Attempt, error) {
	if limit <= 0 {
		limit = 100
	}
	subject := deliveriesSubjectRoot + "." + subscriptionID
	if !experiments.ValidID(subscriptionID) {
		return nil, notFound(subscriptionID)
	}
	info, err := m.deliveries.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", subscriptionID, err)
	}
	if info.State.Subjects[subject] == 0 {
		return []Attempt{}, nil
	}
	cons, err := m.deliveries.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", subscriptionID, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", subscriptionID, err)
	}
	defer it.Stop()
	// The stream info said there is at least one record, so the first
	// Next returns; the last record says that none are pending after it.
	var out []Attempt
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("deliveries of %s: %w", subscriptionID, err)
		}
		var a Attempt
		if json.Unmarshal(msg.Data(), &a) == nil { // a bad record does not hide the rest
			out = append(out, a)
			if len(out) > limit {
				out = out[1:]
			}
		}
		md, err := msg.Metadata()
		if err != nil || md.NumPending == 0 {
			break
		}
	}
	slices.Reverse(out)
	return out, nil
}
