package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// Manager is the webhook engine: the commands that create and change
// subscriptions, the reads that list them and their delivery attempts,
// and Run, which delivers.
type Manager struct {
	cfg        Config
	tracker    jetstream.Stream
	deliveries jetstream.Stream
	client     *http.Client

	mu sync.Mutex
	// subs holds every subscription Run has folded, deleted ones too.
	subs map[string]Subscription
}

// NewManager checks cfg and opens the streams the engine uses: the event
// stream, and the stream of attempt records, which it creates when
// missing.
func NewManager(ctx context.Context, cfg Config) (*Manager, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:    cfg,
		client: newClient(cfg.AttemptTimeout, cfg.AllowPrivateTargets, cfg.TLSConfig),
		subs:   map[string]Subscription{},
	}
	var err error
	if m.tracker, err = cfg.Store.JetStream().Stream(ctx, cfg.Store.Stream()); err != nil {
		return nil, fmt.Errorf("open stream %s: %w", cfg.Store.Stream(), err)
	}
	if m.deliveries, err = m.openDeliveries(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// Run folds every subscription from its events in the stream and keeps
// one delivery worker running per active subscription, until ctx ends.
// It returns only after every worker has stopped; an event a worker was
// delivering is handed back to the broker, and the next Run (here or in
// another process) delivers it.
func (m *Manager) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sup := &supervisor{m: m, workers: map[string]*running{}, removed: map[string]bool{}}
	defer sup.stopAll()
	filter := events.SubjectRoot + "." + events.AggregateWebhook + ".>"
	cons, err := m.tracker.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if ctx.Err() != nil {
		return nil // stopped while starting: not a failure
	}
	if err != nil {
		return fmt.Errorf("follow webhooks: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow webhooks: %w", err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow webhooks: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("follow webhooks: message on %s has no metadata: %w", msg.Subject(), err)
		}
		m.fold(msg.Data(), md.Sequence.Stream, msg.Subject())
		// Workers follow the fold once it has caught up, so that a
		// restart does not start and stop workers through history.
		if md.NumPending == 0 {
			sup.reconcile(ctx, m.snapshot())
		}
	}
}

// fold applies one webhook event to the subscriptions. An event that
// cannot be read is logged and passed over: stopping would stop every
// subscription's deliveries for one bad event.
func (m *Manager) fold(data []byte, seq uint64, subject string) {
	env, err := events.Decode(data)
	if err == nil {
		rec := events.Recorded{Envelope: env, StreamSubject: subject, Sequence: seq}
		var payload any
		if _, payload, err = events.Payload(&rec.Envelope); err == nil {
			m.mu.Lock()
			s := m.subs[env.Subject]
			if err = s.apply(&rec, payload); err == nil {
				m.subs[env.Subject] = s
			}
			m.mu.Unlock()
		}
	}
	if err != nil {
		m.cfg.Logger.Error("webhook event passed over", "position", seq, "subject", subject, "err", err)
	}
}

func (m *Manager) snapshot() []Subscription {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Subscription, 0, len(m.subs))
	for _, s := range m.subs {
		out = append(out, s)
	}
	return out
}

// List returns the subscriptions p may see (its own, its teams', all for
// an admin), as Run has folded them: it is empty until Run has read the
// stream. Deleted subscriptions are left out.
func (m *Manager) List(_ context.Context, p *experiments.Principal) []Subscription {
	var out []Subscription
	for _, s := range m.snapshot() {
		if s.Status != StatusDeleted && canSee(p, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.ID, b.ID) })
	return nonNil(out)
}

// Get returns one subscription, read from the stream, so that it reflects
// every command that returned before. One that p may not see is not
// found.
func (m *Manager) Get(ctx context.Context, p *experiments.Principal, id string) (Subscription, error) {
	s, err := m.load(ctx, id)
	if err != nil {
		return Subscription{}, err
	}
	if !canSee(p, s) {
		return Subscription{}, notFound(id)
	}
	return s, nil
}

// supervisor owns the workers of one Run.
type supervisor struct {
	m       *Manager
	workers map[string]*running
	// removed holds the deleted subscriptions whose consumer is gone.
	removed map[string]bool
}

// running is one worker goroutine and what it was started for.
type running struct {
	cancel   context.CancelFunc
	done     chan struct{}
	position uint64
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

// reconcile starts a worker for each active subscription without one,
// restarts those whose subscription changed since, and stops the others.
func (sup *supervisor) reconcile(ctx context.Context, subs []Subscription) {
	for _, s := range subs {
		r := sup.workers[s.ID]
		if s.Status == StatusActive && r != nil && r.position == s.Position {
			continue
		}
		if r != nil {
			r.stop()
			delete(sup.workers, s.ID)
		}
		switch s.Status {
		case StatusActive:
			sup.workers[s.ID] = sup.start(ctx, s)
		case StatusDeleted:
			if !sup.removed[s.ID] {
				sup.removed[s.ID] = sup.m.removeConsumer(ctx, s.ID)
			}
		}
	}
}

func (sup *supervisor) start(ctx context.Context, s Subscription) *running {
	ctx, cancel := context.WithCancel(ctx)
	r := &running{cancel: cancel, done: make(chan struct{}), position: s.Position}
	w := &worker{m: sup.m, sub: s, signer: newSigner(deriveKey(sup.m.cfg.ServerKey, s.ID, s.SecretRotation))}
	go func() {
		defer close(r.done)
		w.run(ctx)
	}()
	return r
}

func (sup *supervisor) stopAll() {
	for id, r := range sup.workers {
		r.stop()
		delete(sup.workers, id)
	}
	sup.m.client.CloseIdleConnections()
}

// removeConsumer deletes a deleted subscription's consumer, and reports
// whether it is gone.
func (m *Manager) removeConsumer(ctx context.Context, id string) bool {
	err := m.tracker.DeleteConsumer(ctx, consumerName(id))
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		m.cfg.Logger.Warn("webhook consumer not removed", "subscription", id, "err", err)
		return false
	}
	return true
}
