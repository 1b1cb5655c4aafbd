package experiments

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/failforward/failforward/internal/events"
)

// EventStore is what the service needs of the system of record.
type EventStore interface {
	Load(ctx context.Context, aggregate, id string) ([]events.Recorded, error)
	Append(ctx context.Context, aggregate, id string, expected uint64, evs []events.Envelope, idempotencyKey string) (events.AppendResult, error)
	Get(ctx context.Context, seq uint64) (events.Recorded, error)
}

// ServiceConfig configures a Service.
type ServiceConfig struct {
	// Store is the event store commands append to. Required.
	Store EventStore
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// NewID returns a new aggregate or learning id; ULIDs when nil.
	NewID func() string
	// CacheSize bounds how many aggregates are kept folded in memory.
	CacheSize int
	// MaxAttempts bounds how often a command is decided again after losing
	// a race to another writer.
	MaxAttempts int
}

func (c *ServiceConfig) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = newULIDSource()
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 8
	}
}

func (c *ServiceConfig) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("experiments: ServiceConfig.Store is required"))
	}
	if c.CacheSize < 0 {
		errs = append(errs, errors.New("experiments: ServiceConfig.CacheSize must not be negative"))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, errors.New("experiments: ServiceConfig.MaxAttempts must be at least 1"))
	}
	return errors.Join(errs...)
}

// Meta is what a command carries besides its fields: who sent it, how it
// relates to other requests, and what the caller expects.
type Meta struct {
	Actor         string
	CorrelationID string
	CausationID   string
	// IdempotencyKey makes a retried command return its first result and
	// append nothing.
	IdempotencyKey string
	// IfMatch, when set, is the version the caller saw; a different current
	// version fails with CodePrecondition instead of being retried.
	IfMatch *uint64
	// Principal is who acts, checked against each aggregate's team and
	// visibility. Nil is the unrestricted local user.
	Principal *Principal
}

// Service decides commands against the current state of aggregates and
// appends the resulting events.
type Service struct {
	store       EventStore
	now         func() time.Time
	newID       func() string
	maxAttempts int
	cache       *cache
	// locks are striped by aggregate id; enough stripes that concurrent
	// commands on different aggregates rarely share one (with 64 stripes,
	// 64 clients measured 25% slower at p99 than with 4,096).
	locks [4096]sync.Mutex
}

// NewService returns a Service for cfg.
func NewService(cfg ServiceConfig) (*Service, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{
		store: cfg.Store, now: cfg.Now, newID: cfg.NewID, maxAttempts: cfg.MaxAttempts,
		cache: newCache(cfg.CacheSize),
	}, nil
}

// lock serialises commands on one aggregate within this process, so that
// concurrent requests queue instead of racing to the broker; writers in
// other processes are still caught by the expected-sequence check.
func (s *Service) lock(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

func newULIDSource() func() string {
	var mu sync.Mutex
	entropy := ulid.Monotonic(rand.Reader, 0)
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return ulid.MustNew(ulid.Now(), entropy).String()
	}
}

// envelopes wraps decided changes for aggregate id of team.
func (s *Service) envelopes(id, team string, meta Meta, changes []change) ([]events.Envelope, error) {
	now := s.now().UTC()
	out := make([]events.Envelope, 0, len(changes))
	for _, c := range changes {
		data, err := json.Marshal(c.payload)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", c.name, err)
		}
		out = append(out, events.Envelope{
			SpecVersion: events.SpecVersion, ID: s.newID(), Source: events.Source,
			Type: events.TypeOf(c.name), Subject: id, Time: now,
			DataContentType: "application/json", DataSchema: events.SchemaOf(c.name),
			Team: team, Actor: meta.Actor, CorrelationID: meta.CorrelationID, CausationID: meta.CausationID,
			IdempotencyKey: meta.IdempotencyKey, Data: data,
		})
	}
	return out, nil
}

// kind describes one aggregate type to the generic write loop.
type kind[A aggregate[A]] struct {
	name  string
	blank func() A
}

var (
	experimentKind = kind[*experimentAggregate]{events.AggregateExperiment, func() *experimentAggregate { return &experimentAggregate{} }}
	innovationKind = kind[*innovationAggregate]{events.AggregateInnovation, func() *innovationAggregate { return &innovationAggregate{} }}
)

// aggregate is the part of both aggregates that the write loop needs.
// Values held by the cache are never changed: apply works on a clone.
type aggregate[A any] interface {
	clone() A
	exists() bool
	apply(*events.Recorded) error
	hist() *history
	team() string
	// authorize says whether p may change the aggregate: not found when p
	// may not even see it, forbidden when p may see but not change it.
	authorize(p *Principal) error
}

func (a *experimentAggregate) hist() *history { return &a.history }
func (a *experimentAggregate) team() string   { return a.state.Team }
func (a *innovationAggregate) hist() *history { return &a.history }
func (a *innovationAggregate) team() string   { return a.state.Team }

// load returns the aggregate's state, from the cache unless fresh is set,
// else folded from the stream. With upTo > 0 it folds only the events up
// to that position, to answer a retried command with its first result.
func load[A aggregate[A]](ctx context.Context, s *Service, k kind[A], id string, fresh bool, upTo uint64) (A, error) {
	if !fresh && upTo == 0 {
		if a, ok := s.cache.get(id).(A); ok {
			return a, nil
		}
	}
	recs, err := s.store.Load(ctx, k.name, id)
	if err != nil {
		var zero A
		return zero, fmt.Errorf("load %s %s: %w", k.name, id, err)
	}
	a := k.blank()
	for i := range recs {
		if upTo > 0 && recs[i].Sequence > upTo {
			break
		}
		if err := a.apply(&recs[i]); err != nil {
			var zero A
			return zero, err
		}
	}
	if a.exists() && upTo == 0 {
		s.cache.put(id, a)
	}
	return a, nil
}

// write runs the load–decide–append loop for one existing aggregate. A
// lost race is decided again against fresh state, unless the caller named
// the version it expects (If-Match), which then fails as a precondition.
func write[A aggregate[A]](ctx context.Context, s *Service, k kind[A], id string, meta Meta, decide func(A) ([]change, error)) (A, error) {
	var zero A
	if !ValidID(id) {
		return zero, notFound(k.name, id)
	}
	defer s.lock(id)()
	fresh := false
	for attempt := 1; ; attempt++ {
		a, err := load(ctx, s, k, id, fresh, 0)
		if err != nil {
			return zero, err
		}
		if !a.exists() {
			return zero, notFound(k.name, id)
		}
		if err := a.authorize(meta.Principal); err != nil {
			return zero, err
		}
		h := a.hist()
		if pos, ok := h.keys[meta.IdempotencyKey]; ok && meta.IdempotencyKey != "" {
			return load(ctx, s, k, id, true, pos)
		}
		if meta.IfMatch != nil && *meta.IfMatch != h.version {
			if !fresh {
				fresh = true
				continue
			}
			return zero, &Error{Code: CodePrecondition, Message: fmt.Sprintf("%s %s is at version %d, not %d", k.name, id, h.version, *meta.IfMatch)}
		}
		changes, err := decide(a)
		if err == nil && len(changes) == 0 {
			return a, nil // nothing to change, as when linking twice
		}
		if err != nil {
			if !fresh && ErrorCode(err) == CodeConflict {
				// The cached state may be stale; decide once more on fresh
				// state before telling the caller no.
				fresh = true
				continue
			}
			return zero, err
		}
		evs, err := s.envelopes(id, a.team(), meta, changes)
		if err != nil {
			return zero, err
		}
		res, err := s.store.Append(ctx, k.name, id, h.position, evs, meta.IdempotencyKey)
		switch {
		case errors.Is(err, events.ErrConflict):
			s.cache.drop(id)
			fresh = true
			if meta.IfMatch == nil && attempt >= s.maxAttempts {
				return zero, conflict("%s %s kept changing under this command; try again", k.name, id)
			}
			continue // with If-Match, the next round answers 412 if the version moved
		case err != nil:
			return zero, err
		case res.Duplicate:
			s.cache.drop(id)
			return load(ctx, s, k, id, true, res.LastSequence)
		}
		return appended(s, a, evs, res)
	}
}

// create appends the first events of a new aggregate. A retried command
// (same idempotency key, within the broker's duplicate window) returns the
// aggregate its first attempt created.
func create[A aggregate[A]](ctx context.Context, s *Service, k kind[A], id, team string, meta Meta, changes []change) (A, error) {
	var zero A
	evs, err := s.envelopes(id, team, meta, changes)
	if err != nil {
		return zero, err
	}
	res, err := s.store.Append(ctx, k.name, id, 0, evs, meta.IdempotencyKey)
	if err != nil {
		return zero, err
	}
	if res.Duplicate {
		first, err := s.store.Get(ctx, res.LastSequence)
		if err != nil {
			return zero, fmt.Errorf("find first result of %s: %w", meta.IdempotencyKey, err)
		}
		return load(ctx, s, k, first.Subject, true, res.LastSequence)
	}
	return appended(s, k.blank(), evs, res)
}

// appended folds the events just written into a copy of the state and
// caches it, so that the next command on the aggregate needs no load.
func appended[A aggregate[A]](s *Service, a A, evs []events.Envelope, res events.AppendResult) (A, error) {
	next := a.clone()
	for i := range evs {
		r := events.Recorded{Envelope: evs[i], Sequence: res.FirstSequence + uint64(i)}
		if err := next.apply(&r); err != nil {
			s.cache.drop(r.Subject)
			var zero A
			return zero, err
		}
	}
	s.cache.put(evs[0].Subject, next)
	return next, nil
}
