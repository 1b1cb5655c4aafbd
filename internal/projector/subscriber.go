package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
)

// Metadata keys the Subscriber sets on every message besides the NATS
// headers, which it copies as they are.
const (
	// MetadataStream is the name of the stream the message was read from.
	MetadataStream = "jetstream_stream"
	// MetadataSequence is the message's stream sequence, in decimal.
	MetadataSequence = "jetstream_sequence"
	// MetadataSubject is the subject the message was published on.
	MetadataSubject = "jetstream_subject"
	// MetadataPending is how many messages matching the subscription were
	// still in the stream after this one when it was delivered, in decimal.
	MetadataPending = "jetstream_pending"
)

// HeaderUUID carries a Watermill message's UUID through NATS. A message
// without it gets its UUID from the CloudEvents id (Ce-Id), then from
// Nats-Msg-Id, then from its stream and sequence.
const HeaderUUID = "Watermill-Uuid"

// SubscriberConfig configures a Subscriber.
type SubscriberConfig struct {
	// Conn is the NATS connection to read through. Required; the
	// Subscriber never closes it.
	Conn *nats.Conn
	// Stream names the stream to read. Empty: the stream is looked up by
	// the topic passed to Subscribe.
	Stream string
	// StartSequence is the first stream sequence delivered; 0 delivers
	// the stream from its beginning.
	StartSequence uint64
	// NackResendDelay is how long a nacked message waits before it is
	// delivered again; 100ms by default.
	NackResendDelay time.Duration
	// PullMaxMessages is how many messages the client buffers ahead of
	// the handler; 1,000 by default. More smooths a replay; fewer holds
	// less memory.
	PullMaxMessages int
	// Logger receives errors that end a subscription; nil discards them.
	Logger *slog.Logger
}

func (c *SubscriberConfig) setDefaults() {
	if c.NackResendDelay == 0 {
		c.NackResendDelay = 100 * time.Millisecond
	}
	if c.PullMaxMessages == 0 {
		c.PullMaxMessages = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate reports every problem with the configuration at once.
func (c *SubscriberConfig) Validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("subscriber: a NATS connection is required"))
	}
	if c.NackResendDelay < 0 {
		errs = append(errs, fmt.Errorf("subscriber: nack resend delay %s is negative", c.NackResendDelay))
	}
	if c.PullMaxMessages < 0 {
		errs = append(errs, fmt.Errorf("subscriber: pull max messages %d is negative", c.PullMaxMessages))
	}
	return errors.Join(errs...)
}

// Subscriber is a Watermill message.Subscriber over a JetStream ordered
// consumer: it delivers every message of a stream whose subject matches
// the topic, in stream order, starting at a given sequence.
//
// It keeps no state on the server: an ordered consumer is ephemeral and
// unacknowledged, so the Watermill ack is flow control only. A message is
// delivered only after the one before it was acked; a nacked message is
// delivered again, in place, after NackResendDelay. Whoever needs to
// resume after a restart keeps its own position (the projector keeps it
// in its database) and passes it as StartSequence.
type Subscriber struct {
	cfg SubscriberConfig
	js  jetstream.JetStream

	mu     sync.Mutex
	closed bool
	// life ends when the Subscriber is closed, and every subscription's
	// context with it.
	life context.Context
	end  context.CancelFunc
	wg   sync.WaitGroup
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a Subscriber configured by cfg.
func NewSubscriber(cfg SubscriberConfig) (*Subscriber, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("subscriber: %w", err)
	}
	life, end := context.WithCancel(context.Background())
	return &Subscriber{cfg: cfg, js: js, life: life, end: end}, nil
}

// ErrSubscriberClosed is returned by Subscribe after Close.
var ErrSubscriberClosed = errors.New("subscriber is closed")

// Subscribe starts delivering the messages whose subject matches topic (a
// NATS subject, wildcards allowed). The channel is closed when ctx ends,
// when the Subscriber is closed, or when the consumer fails for good (the
// error is logged).
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrSubscriberClosed
	}
	// Setting up does not depend on ctx: a subscription whose context has
	// already ended is made and closed at once, rather than failing, since
	// Watermill's router leaks a goroutine when Subscribe fails.
	setupCtx, cancelSetup := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelSetup()
	stream := s.cfg.Stream
	if stream == "" {
		name, err := s.js.StreamNameBySubject(setupCtx, topic)
		if err != nil {
			return nil, fmt.Errorf("subscribe %s: find its stream: %w", topic, err)
		}
		stream = name
	}
	cur, err := events.NewReader(s.js, stream).Ordered(setupCtx, events.OrderedOptions{
		Subjects: []string{topic}, From: s.cfg.StartSequence, PullMaxMessages: s.cfg.PullMaxMessages,
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", topic, err)
	}
	// The subscription's context ends with the caller's or with Close,
	// whichever comes first; every message's context derives from it.
	subCtx, cancel := context.WithCancel(ctx)
	stopClosing := context.AfterFunc(s.life, cancel)
	out := make(chan *message.Message)
	s.wg.Go(func() {
		defer close(out)
		defer cancel()
		defer stopClosing()
		defer cur.Stop()
		s.deliver(subCtx, stream, topic, cur, out)
	})
	return out, nil
}

// readAhead is how many messages deliver takes from the cursor before the
// handler asks for them.
const readAhead = 256

// deliver moves messages from the cursor to out, one at a time, each
// after the previous one was acked. It reads ahead, so that a message's
// pending count includes the messages that reached the client after the
// server counted: the server's count is taken when it sends a message,
// and while the projector works through the client's buffer a trickle of
// new events would otherwise each look like the last one, and each be
// committed in a transaction of its own.
func (s *Subscriber) deliver(ctx context.Context, stream, topic string, cur *events.Cursor, out chan<- *message.Message) {
	pumpCtx, stop := context.WithCancel(ctx)
	ahead := make(chan events.StreamMsg, readAhead)
	var pumpErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ahead)
		for {
			jm, err := cur.Next(pumpCtx)
			if err != nil {
				pumpErr = err
				return
			}
			select {
			case ahead <- jm:
			case <-pumpCtx.Done():
				return
			}
		}
	}()
	defer func() { stop(); <-done }()
	for jm := range ahead {
		jm.Pending = max(jm.Pending, uint64(len(ahead)))
		if !s.deliverOne(ctx, toMessage(stream, jm), out) {
			return
		}
	}
	<-done
	if err := pumpErr; ctx.Err() == nil && err != nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
		s.cfg.Logger.Error("jetstream subscription ended", "stream", stream, "topic", topic, "err", err)
	} else if ctx.Err() == nil {
		s.cfg.Logger.Warn("jetstream subscription closed", "stream", stream, "topic", topic, "err", err)
	}
}

// deliverOne hands msg to out and waits for its ack, delivering it again
// after each nack. It reports false when the subscription ended first.
func (s *Subscriber) deliverOne(ctx context.Context, msg *message.Message, out chan<- *message.Message) bool {
	for {
		msgCtx, cancel := context.WithCancel(ctx)
		msg.SetContext(msgCtx)
		select {
		case out <- msg:
		case <-ctx.Done():
			cancel()
			return false
		}
		select {
		case <-msg.Acked():
			cancel()
			return true
		case <-msg.Nacked():
			cancel()
		case <-ctx.Done():
			cancel()
			return false
		}
		t := time.NewTimer(s.cfg.NackResendDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		msg = msg.Copy()
	}
}

// toMessage turns a JetStream message into a Watermill message with the
// NATS headers and the stream position as metadata.
func toMessage(stream string, jm events.StreamMsg) *message.Message {
	h := jm.Headers()
	seq := strconv.FormatUint(jm.Sequence, 10)
	uuid := firstOf(h.Get(HeaderUUID), h.Get("Ce-Id"), h.Get(nats.MsgIdHdr), stream+":"+seq)
	msg := message.NewMessage(uuid, jm.Data())
	msg.Metadata = make(message.Metadata, len(h)+4)
	for k, v := range h {
		if len(v) > 0 && k != HeaderUUID {
			msg.Metadata[k] = v[0]
		}
	}
	msg.Metadata[MetadataStream] = stream
	msg.Metadata[MetadataSequence] = seq
	msg.Metadata[MetadataSubject] = jm.Subject()
	msg.Metadata[MetadataPending] = strconv.FormatUint(jm.Pending, 10)
	return msg
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// Close ends every subscription, closes their channels and waits for
// their goroutines. It is safe to call more than once.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	s.end()
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
