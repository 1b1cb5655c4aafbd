package events

// This file is the client side of the published event contract: what a
// downstream service (a notifier, a warehouse loader) uses to read the
// stream. It lives here because Go's internal rule only lets code of this
// module import it (examples/ does); it is written to move, with the
// envelope, the catalogue and the schemas, to a public module of its own
// once a service outside this repository needs it. Keep it free of
// dependencies on the rest of failforward for that reason.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StartPolicy says where a new consumer starts reading. It applies when
// Subscribe creates the consumer; an existing durable consumer resumes
// after the last event it acknowledged, whatever the policy.
type StartPolicy int

const (
	// StartAtBeginning delivers every event from the first one written.
	StartAtBeginning StartPolicy = iota
	// StartAtNew delivers only events written after the consumer was
	// created.
	StartAtNew
	// StartAtTime delivers the events the stream received at or after
	// SubscribeOptions.StartTime.
	StartAtTime
)

// Delivery is one event handed to a Handler.
type Delivery struct {
	Recorded
	// NumDelivered counts the deliveries of this event to the consumer, 1
	// the first time. More means that an earlier attempt failed or was not
	// acknowledged, so a handler with side effects can check whether it
	// already did its work.
	NumDelivered uint64
}

// Handler handles one event. Returning nil acknowledges it; an error
// leaves it unacknowledged, and it is delivered again after a backoff,
// before any later event. Delivery is at least once: a process that dies
// between the handler's success and the acknowledgement sees the event
// again, so a handler with side effects deduplicates on the event's ID or
// Sequence.
type Handler func(ctx context.Context, d Delivery) error

// InvalidEvent is a message in the stream that does not decode, or does
// not match the published schemas.
type InvalidEvent struct {
	// Sequence is its position in the stream.
	Sequence uint64
	// Subject is the NATS subject it was written to.
	Subject string
	// Data is the message body as stored.
	Data []byte
	// Err says what is wrong; it wraps ErrMalformed.
	Err error
}

// defaultBackoff is how long a failed event waits before each
// redelivery: the last step repeats.
var defaultBackoff = []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute}

// SubscribeOptions configures Subscribe.
type SubscribeOptions struct {
	// Stream is the stream to read; TRACKER by default. In the production
	// topology downstream services read their account's mirror of it,
	// which keeps the same name and sequences (see deploy/nats.conf).
	Stream string
	// Subjects narrow the events delivered, for instance
	// tracker.innovation.*.linked; the whole stream when empty.
	Subjects []string
	// Start says where a new consumer starts; see StartPolicy.
	Start StartPolicy
	// StartTime is where StartAtTime starts.
	StartTime time.Time
	// Backoff is how long a failed event waits before each redelivery,
	// the last step repeating; 1s, 2s, 5s, 10s, 30s, 1m when empty.
	Backoff []time.Duration
	// AckWait is how long the broker waits for an acknowledgement before
	// it delivers an event again; 30s by default. Subscribe tells the
	// broker that a slow handler is still working, so this only matters
	// when the process dies.
	AckWait time.Duration
	// Validator checks every event against the published schemas;
	// NewValidator's when nil.
	Validator *Validator
	// OnInvalid decides about an event that does not decode or does not
	// match its schema. Returning nil skips it for good (the broker is
	// told never to deliver it again); an error stops Subscribe with that
	// error. When nil, Subscribe stops with an error wrapping ErrMalformed
	// and leaves the event where it is, because silently dropping an event
	// is worse than stopping.
	OnInvalid func(ctx context.Context, ev InvalidEvent) error
	// Logger logs handler failures and redeliveries; slog.Default when
	// nil.
	Logger *slog.Logger
}

func (o *SubscribeOptions) setDefaults() {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if len(o.Subjects) == 0 {
		o.Subjects = []string{SubjectRoot + ".>"}
	}
	if len(o.Backoff) == 0 {
		o.Backoff = defaultBackoff
	}
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

func (o *SubscribeOptions) validate(durable string, h Handler) error {
	var errs []error
	if strings.ContainsAny(durable, ".*> \t\r\n") {
		errs = append(errs, fmt.Errorf("durable name %q may not contain '.', '*', '>' or white space", durable))
	}
	if h == nil {
		errs = append(errs, errors.New("handler is nil"))
	}
	if o.Start == StartAtTime && o.StartTime.IsZero() {
		errs = append(errs, errors.New("StartAtTime without a StartTime"))
	}
	if o.Start < StartAtBeginning || o.Start > StartAtTime {
		errs = append(errs, fmt.Errorf("unknown start policy %d", o.Start))
	}
	for _, d := range o.Backoff {
		if d < 0 {
			errs = append(errs, fmt.Errorf("negative backoff %s", d))
		}
	}
	if o.AckWait < time.Second {
		errs = append(errs, fmt.Errorf("ack wait %s is shorter than a second", o.AckWait))
	}
	return errors.Join(errs...)
}

// Subscribe delivers the stream's events to h, in stream order, one at a
// time, until ctx ends; then it returns nil. It fails, returning an
// error, when the consumer cannot be set up or read, or on an invalid
// event that OnInvalid does not skip.
//
// With a durable name the consumer outlives the subscriber: a later
// Subscribe with the same name resumes after the last acknowledged event,
// and several processes subscribing with one name share the work while
// keeping the order. With an empty name the consumer is ephemeral: it
// starts as Start says every time and is deleted when Subscribe returns.
//
// Every event is checked against the published schemas before h sees it.
// An event h fails on is delivered again after a backoff, and no later
// event is delivered before it succeeds: order is part of the contract
// (a conclusion comes after its registration, a link after both).
// Acknowledgements are confirmed by the broker before the next event, so
// an event h handled is not delivered again unless the process dies
// between the two.
func Subscribe(ctx context.Context, nc *nats.Conn, durable string, h Handler, opts SubscribeOptions) error {
	opts.setDefaults()
	if err := opts.validate(durable, h); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if opts.Validator == nil {
		v, err := NewValidator()
		if err != nil {
			return fmt.Errorf("subscribe: %w", err)
		}
		opts.Validator = v
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	cons, err := openConsumer(ctx, js, durable, opts)
	if err != nil {
		return fmt.Errorf("subscribe %s to %s: %w", durable, opts.Stream, err)
	}
	s := &subscription{
		nc: nc, h: h, opts: opts, ackWait: cons.CachedInfo().Config.AckWait,
		log: opts.Logger.With(slog.String("stream", opts.Stream), slog.String("consumer", cons.CachedInfo().Name)),
	}
	if err := s.run(ctx, NewReader(js, opts.Stream), cons); err != nil {
		return fmt.Errorf("subscribe %s to %s: %w", durable, opts.Stream, err)
	}
	return nil
}

// consumerConfig is the consumer Subscribe reads through: explicit acks
// and one event in flight, which is what keeps the order across failures.
func consumerConfig(durable string, opts SubscribeOptions) jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "failforward downstream subscriber",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       opts.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 1,
	}
	if len(opts.Subjects) == 1 {
		cfg.FilterSubject = opts.Subjects[0]
	} else {
		cfg.FilterSubjects = opts.Subjects
	}
	switch opts.Start {
	case StartAtNew:
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
	case StartAtTime:
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		t := opts.StartTime
		cfg.OptStartTime = &t
	default:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	if durable == "" {
		cfg.InactiveThreshold = time.Minute
	}
	return cfg
}

// openConsumer returns the durable consumer, created as opts says when it
// does not exist yet, or a new ephemeral one.
func openConsumer(ctx context.Context, js jetstream.JetStream, durable string, opts SubscribeOptions) (jetstream.Consumer, error) {
	cfg := consumerConfig(durable, opts)
	if durable == "" {
		return js.CreateConsumer(ctx, opts.Stream, cfg)
	}
	cons, err := js.Consumer(ctx, opts.Stream, durable)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = js.CreateConsumer(ctx, opts.Stream, cfg)
		if errors.Is(err, jetstream.ErrConsumerExists) {
			// Another instance created it in between; share it.
			cons, err = js.Consumer(ctx, opts.Stream, durable)
		}
	}
	if err != nil {
		return nil, err
	}
	// An existing consumer keeps its position; refuse one that would
	// deliver other events, or out of order, rather than change it under
	// whoever else uses it.
	have := cons.CachedInfo().Config
	filters := have.FilterSubjects
	if have.FilterSubject != "" {
		filters = []string{have.FilterSubject}
	}
	if !slices.Equal(sorted(filters), sorted(opts.Subjects)) || have.AckPolicy != jetstream.AckExplicitPolicy || have.MaxAckPending != 1 {
		return nil, fmt.Errorf("consumer %s exists with filter %v, ack policy %s and max ack pending %d; want %v, explicit acks and 1 (delete it or pick another name)",
			durable, filters, have.AckPolicy, have.MaxAckPending, opts.Subjects)
	}
	return cons, nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// subscription is one running Subscribe.
type subscription struct {
	nc      *nats.Conn
	h       Handler
	opts    SubscribeOptions
	ackWait time.Duration
	log     *slog.Logger
}

// run reads cons until ctx ends or an event stops it. An ephemeral
// consumer is deleted when run returns: the server would remove it after
// its inactivity threshold, and deleting it at once spares the wait.
func (s *subscription) run(ctx context.Context, r Reader, cons jetstream.Consumer) error {
	cur, err := r.Consume(cons)
	if err != nil {
		return err
	}
	defer cur.Stop()
	for {
		m, err := cur.Next(ctx)
		if ctx.Err() != nil {
			if m.Msg != nil {
				_ = m.Nak()
			}
			s.release(cur)
			return nil
		}
		if errors.Is(err, jetstream.ErrNoHeartbeat) {
			// The client pulls again by itself; nothing was lost.
			s.log.Warn("no heartbeat from the server; pulling again")
			continue
		}
		if err != nil {
			return err
		}
		if err := s.handle(ctx, m); err != nil {
			s.release(cur)
			return err
		}
	}
}

// release hands the events this subscriber holds but has not handled back
// to the broker, so that whoever subscribes next gets them at once
// instead of after the ack wait.
func (s *subscription) release(cur *Cursor) {
	cur.Release()
	// The naks are fire-and-forget publishes: flush them before the caller
	// may close the connection.
	_ = s.nc.FlushTimeout(2 * time.Second)
}

// handle decodes, checks and hands one message to the handler, then
// acknowledges it or schedules its redelivery. An error stops Subscribe.
func (s *subscription) handle(ctx context.Context, m StreamMsg) error {
	d := Delivery{NumDelivered: m.Delivered}
	var err error
	d.Recorded, err = s.decode(m, m.Sequence)
	if err != nil {
		return s.invalid(ctx, m, InvalidEvent{Sequence: m.Sequence, Subject: m.Subject(), Data: m.Data(), Err: err})
	}

	stop := s.keepInProgress(m)
	herr := s.h(ctx, d)
	stop()
	if herr == nil {
		// Acknowledge even when ctx ended meanwhile: the work is done, and
		// an unacknowledged event would be handled again.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := m.DoubleAck(actx); err != nil {
			s.log.Warn("acknowledgement not confirmed; the event may be delivered again",
				slog.Uint64("sequence", d.Sequence), slog.Any("err", err))
		}
		return nil
	}
	if ctx.Err() != nil {
		// Stopping: hand it back at once for whoever subscribes next.
		_ = m.Nak()
		return nil
	}
	delay := s.opts.Backoff[min(int(m.Delivered), len(s.opts.Backoff))-1]
	s.log.Warn("handler failed; the event will be delivered again",
		slog.Uint64("sequence", d.Sequence), slog.String("type", d.Type),
		slog.Uint64("attempt", m.Delivered), slog.Duration("retry_in", delay), slog.Any("err", herr))
	if err := m.NakWithDelay(delay); err != nil {
		s.log.Warn("nak failed; the event is delivered again after the ack wait", slog.Uint64("sequence", d.Sequence), slog.Any("err", err))
	}
	return nil
}

// decode turns a message into a checked Recorded event.
func (s *subscription) decode(m jetstream.Msg, seq uint64) (Recorded, error) {
	if err := s.opts.Validator.Validate(m.Data()); err != nil {
		return Recorded{}, err
	}
	env, err := Decode(m.Data())
	if err != nil {
		return Recorded{}, err
	}
	name, _, err := ParseType(env.Type)
	if err != nil {
		return Recorded{}, err
	}
	// The subject is what consumers filter on; an event whose body says
	// otherwise would be routed wrongly.
	if want := Subject(name, env.Subject); m.Subject() != want {
		return Recorded{}, fmt.Errorf("%w: event %s is on %s, want %s", ErrMalformed, env.ID, m.Subject(), want)
	}
	return Recorded{Envelope: env, StreamSubject: m.Subject(), Sequence: seq}, nil
}

// invalid applies OnInvalid to a message that failed decode.
func (s *subscription) invalid(ctx context.Context, m jetstream.Msg, ev InvalidEvent) error {
	if s.opts.OnInvalid == nil {
		_ = m.Nak()
		return fmt.Errorf("event %d on %s: %w", ev.Sequence, ev.Subject, ev.Err)
	}
	if err := s.opts.OnInvalid(ctx, ev); err != nil {
		_ = m.Nak()
		return fmt.Errorf("event %d on %s: %w", ev.Sequence, ev.Subject, err)
	}
	if err := m.TermWithReason("invalid event: " + ev.Err.Error()); err != nil {
		return fmt.Errorf("skip event %d: %w", ev.Sequence, err)
	}
	return nil
}

// keepInProgress tells the broker, while a handler runs, that the event
// is being worked on, so that a slow handler does not get a second copy
// of its event from the ack wait running out. The returned func stops it.
func (s *subscription) keepInProgress(m jetstream.Msg) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
