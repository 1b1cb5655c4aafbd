package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// replayMarker is the consumer metadata key that records which replay
// (the position of the webhook.changed that asked for it) the consumer's
// start reflects, so that a replay is done once, across restarts.
const replayMarker = "failforward_replay"

// errPaused stops a worker whose subscription it paused.
var errPaused = errors.New("subscription paused after repeated failures")

// worker delivers one subscription's events, one at a time, in stream
// order, through the subscription's durable consumer.
type worker struct {
	m      *Manager
	sub    Subscription
	signer signer
	// failingSince is when the current run of failed attempts began; zero
	// while deliveries succeed.
	failingSince time.Time
}

// run consumes until ctx ends or the worker pauses its subscription. A
// broken consumer (the broker restarting) is opened again after a wait.
func (w *worker) run(ctx context.Context) {
	for {
		err := w.consume(ctx)
		if ctx.Err() != nil || errors.Is(err, errPaused) {
			return
		}
		w.m.cfg.Logger.Warn("webhook worker restarts", "subscription", w.sub.ID, "err", err)
		if wait(ctx, w.m.cfg.BackoffBase) != nil {
			return
		}
	}
}

func (w *worker) consume(ctx context.Context) error {
	cons, err := w.m.ensureConsumer(ctx, w.sub)
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return fmt.Errorf("consume webhook %s: %w", w.sub.ID, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("consume webhook %s: %w", w.sub.ID, err)
		}
		if err := w.handle(ctx, msg); err != nil {
			// Handed back at once, so that the next worker (after a resume
			// or a restart) starts with it instead of waiting out AckWait.
			_ = msg.Nak()
			return err
		}
	}
}

// handle delivers one event, retrying until the receiver takes it or
// refuses it for good; it fails only when ctx ends or the subscription
// is paused, and the event then stays unacknowledged.
func (w *worker) handle(ctx context.Context, msg jetstream.Msg) error {
	md, err := msg.Metadata()
	if err != nil {
		return fmt.Errorf("message on %s has no metadata: %w", msg.Subject(), err)
	}
	rec := events.Recorded{StreamSubject: msg.Subject(), Sequence: md.Sequence.Stream}
	env, err := events.Decode(msg.Data())
	if err != nil {
		w.m.cfg.Logger.Error("webhook skips an undecodable event", "subscription", w.sub.ID, "position", rec.Sequence, "err", err)
		return msg.Term()
	}
	rec.Envelope = env
	for n := 1; ; n++ {
		// Each attempt starts with the broker's full AckWait, which is
		// longer than an attempt may take (see ackWait).
		_ = msg.InProgress()
		req, ok, err := w.render(ctx, rec, msg.Data())
		if err == nil && !ok {
			return ack(ctx, msg)
		}
		a, asked := Attempt{}, time.Duration(0)
		if err != nil {
			a = Attempt{SubscriptionID: w.sub.ID, EventID: rec.ID, EventType: rec.Type, Position: rec.Sequence,
				Attempt: n, Time: w.m.cfg.Now().UTC(), Outcome: OutcomeFailed, Error: "prepare delivery: " + err.Error()}
		} else {
			a, asked = w.post(ctx, req, n)
		}
		if ctx.Err() != nil {
			return ctx.Err() // stopped, not the receiver's failure
		}
		if a.Outcome != OutcomeFailed {
			w.failingSince = time.Time{}
			w.m.record(ctx, a)
			return ack(ctx, msg)
		}
		if w.failingSince.IsZero() {
			w.failingSince = a.Time
		}
		if a.Time.Sub(w.failingSince) >= w.m.cfg.PauseAfter {
			w.m.record(ctx, a)
			if w.pause(ctx, a) {
				return errPaused
			}
		}
		delay := w.backoff(n, asked)
		a.RetryInMS = ms(delay)
		w.m.record(ctx, a)
		if err := w.waitHolding(ctx, msg, delay); err != nil {
			return err
		}
	}
}

// ack acknowledges msg and waits for the broker to confirm, so that a
// restart does not deliver it again. A worker being stopped still
// acknowledges what it delivered: the stop must not undo a delivery.
func ack(ctx context.Context, msg jetstream.Msg) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return msg.DoubleAck(ctx)
}

// pause appends webhook.paused with the failures as the reason. It
// reports whether the subscription is now paused (by this or by anyone);
// when the append fails, deliveries go on trying, and pausing is tried
// again after the next failure.
func (w *worker) pause(ctx context.Context, last Attempt) bool {
	reason := fmt.Sprintf("deliveries failed since %s; last attempt (event %s, position %d): %s",
		w.failingSince.Format(time.RFC3339), last.EventID, last.Position, last.Error)
	if len(reason) > maxReason {
		reason = reason[:maxReason]
	}
	_, err := w.m.write(ctx, experiments.Meta{Actor: engineActor}, w.sub.ID, func(s Subscription) (string, any, error) {
		if s.Status != StatusActive {
			return "", nil, nil
		}
		return events.WebhookPaused, &events.WebhookPausedV1{Reason: reason, Automatic: true}, nil
	})
	if err != nil {
		w.m.cfg.Logger.Warn("webhook not paused", "subscription", w.sub.ID, "err", err)
		return errors.Is(err, experiments.ErrNotFound) // deleted meanwhile: stop as well
	}
	w.m.cfg.Logger.Warn("webhook paused", "subscription", w.sub.ID, "reason", reason)
	return true
}

// waitHolding waits d while telling the broker, more often than AckWait,
// that the event is still being worked on, so that it is not handed to
// another worker during a long backoff.
func (w *worker) waitHolding(ctx context.Context, msg jetstream.Msg, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil
		}
		if err := wait(ctx, min(left, w.m.cfg.AckWait/3)); err != nil {
			return err
		}
		if time.Until(deadline) > 0 {
			_ = msg.InProgress()
		}
	}
}

// wait returns after d, or with ctx's error when ctx ends first.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// consumerName is the durable consumer of a subscription.
func consumerName(id string) string {
	return "webhook_" + id
}

// ensureConsumer opens the subscription's durable consumer, creating it
// to start after webhook.created, moving its start when a replay was
// asked for since, and otherwise keeping its position while updating its
// filter.
func (m *Manager) ensureConsumer(ctx context.Context, s Subscription) (jetstream.Consumer, error) {
	name := consumerName(s.ID)
	want := jetstream.ConsumerConfig{
		Durable: name, Description: "Deliveries of webhook " + s.ID,
		FilterSubjects: filterSubjects(s), AckPolicy: jetstream.AckExplicitPolicy, AckWait: m.ackWait(),
		MaxDeliver: -1, MaxAckPending: 1, Replicas: 0,
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: s.CreatedPosition + 1,
		Metadata: map[string]string{replayMarker: strconv.FormatUint(s.replayAt, 10)},
	}
	if s.replay != nil {
		startAtReplay(&want, s.replay)
	}
	cons, err := m.tracker.Consumer(ctx, name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return m.createConsumer(ctx, want)
	case err != nil:
		return nil, fmt.Errorf("open consumer %s: %w", name, err)
	}
	have := cons.CachedInfo().Config
	if have.Metadata[replayMarker] != want.Metadata[replayMarker] {
		if err := m.tracker.DeleteConsumer(ctx, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil, fmt.Errorf("reset consumer %s: %w", name, err)
		}
		return m.createConsumer(ctx, want)
	}
	// Where a consumer starts cannot be updated; it would not matter
	// anyway, since it resumes after its last acknowledged event.
	want.DeliverPolicy, want.OptStartSeq, want.OptStartTime = have.DeliverPolicy, have.OptStartSeq, have.OptStartTime
	cons, err = m.tracker.UpdateConsumer(ctx, want)
	if err != nil {
		return nil, fmt.Errorf("update consumer %s: %w", name, err)
	}
	return cons, nil
}

// ackWait is the consumer's AckWait: the configured one, but longer
// than an attempt may take, so that the broker never hands an event to
// another worker while an attempt to deliver it is under way.
func (m *Manager) ackWait() time.Duration {
	return max(m.cfg.AckWait, m.cfg.AttemptTimeout+time.Second)
}

func (m *Manager) createConsumer(ctx context.Context, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	cons, err := m.tracker.CreateConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create consumer %s: %w", cfg.Durable, err)
	}
	return cons, nil
}

func startAtReplay(cfg *jetstream.ConsumerConfig, r *events.WebhookReplay) {
	if r.FromTime != nil {
		cfg.DeliverPolicy, cfg.OptStartSeq, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, 0, r.FromTime
		return
	}
	cfg.OptStartSeq = max(r.FromPosition, 1)
}

// filterSubjects narrows the consumer to the subscription's event types,
// so that the broker skips everything else.
func filterSubjects(s Subscription) []string {
	out := make([]string, 0, len(s.Events))
	for _, e := range s.Events {
		if s.Format == FormatChat && !slices.Contains(chatEvents, e) {
			continue
		}
		out = append(out, events.Subject(e, "*"))
	}
	return out
}
