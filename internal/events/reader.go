package events

// Like subscribe.go, this file is part of the client side of the event
// contract (Subscribe reads through it), so it too stays free of
// dependencies on the rest of failforward.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// Reader reads one stream, in stream order, in the three ways its
// readers need: direct batch gets for a short, bounded read (an
// aggregate's history, on every command's path: no consumer to create),
// an ordered consumer for a long read from a position (following the
// stream, replaying it into the read models), and a durable consumer
// whose acknowledgements the broker keeps (downstream subscribers).
type Reader struct {
	js     jetstream.JetStream
	stream string
}

// NewReader returns a Reader of stream through js.
func NewReader(js jetstream.JetStream, stream string) Reader {
	return Reader{js: js, stream: stream}
}

// Stream is the name of the stream the Reader reads.
func (r Reader) Stream() string { return r.stream }

// scanPage is how many messages one direct batch get asks for. Most
// aggregates fit in one page; longer ones take one round trip per page.
const scanPage = 256

// numPendingHeader carries, on each message of a batch get, how many
// messages on the filter follow it.
const numPendingHeader = "Nats-Num-Pending"

// Scan calls fn with every message on filter from start on (a sequence or
// a time, as jetstreamext.GetBatchSeq or GetBatchStartTime say), in
// stream order, until fn returns false or the messages run out.
// Each page is one direct batch get, which needs no consumer and can be
// served by any replica; the next page starts after the last message
// seen.
//
// A page's answer can end early without an error: the batch get iterator
// stops silently when its deadline passes. Nats-Num-Pending on the last
// message received tells whether more remain, so a cut-short page is
// simply continued, and a page with no answer at all (not even "no
// messages") is an error, never an empty read.
func (r Reader) Scan(ctx context.Context, filter string, start jetstreamext.GetBatchOpt, fn func(*jetstream.RawStreamMsg) bool) error {
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read %s: %w", filter, err)
		}
		last, more, err := r.scanPage(ctx, filter, start, fn)
		if err != nil || !more {
			return err
		}
		pending, err := strconv.ParseUint(last.Header.Get(numPendingHeader), 10, 64)
		if err != nil {
			return fmt.Errorf("read %s: event %d has no valid %s header", filter, last.Sequence, numPendingHeader)
		}
		if pending == 0 {
			return nil
		}
		start = jetstreamext.GetBatchSeq(last.Sequence + 1)
	}
}

// scanPage reads one page of Scan and returns the last message it saw;
// more is false when the read is over.
func (r Reader) scanPage(ctx context.Context, filter string, start jetstreamext.GetBatchOpt, fn func(*jetstream.RawStreamMsg) bool) (last *jetstream.RawStreamMsg, more bool, err error) {
	msgs, err := jetstreamext.GetBatch(ctx, r.js, r.stream, scanPage, start, jetstreamext.GetBatchSubject(filter))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", filter, classify(err))
	}
	for m, err := range msgs {
		if errors.Is(err, jetstreamext.ErrNoMessages) {
			return last, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("read %s: %w", filter, classify(err))
		}
		last = m
		if !fn(m) {
			return last, false, nil
		}
	}
	if last == nil {
		if err := ctx.Err(); err != nil {
			return nil, false, fmt.Errorf("read %s: %w", filter, err)
		}
		return nil, false, fmt.Errorf("read %s: %w: stream %s did not answer", filter, ErrUnavailable, r.stream)
	}
	return last, true, nil
}

// OrderedOptions says what an ordered read delivers.
type OrderedOptions struct {
	// Subjects filter the stream; the whole stream when empty.
	Subjects []string
	// From is the first stream sequence delivered; 0 or 1 is the start.
	From uint64
	// PullMaxMessages is how many messages the client buffers ahead of
	// the reader; the client library's default (500) when 0.
	PullMaxMessages int
}

// Ordered reads the stream from a position through an ordered consumer:
// an ephemeral, unacknowledged consumer that the client library recreates
// at the right place after a gap or a lost connection. It costs one
// consumer creation (tens of milliseconds), so it suits long reads, not
// per-request loads. Stop the Cursor to delete the consumer at once
// rather than leave it for the server to reap.
func (r Reader) Ordered(ctx context.Context, opts OrderedOptions) (*Cursor, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: opts.Subjects, DeliverPolicy: jetstream.DeliverAllPolicy}
	if opts.From > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = opts.From
	}
	cons, err := r.js.OrderedConsumer(ctx, r.stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("read %s from %d: %w", r.stream, opts.From, classify(err))
	}
	var pull []jetstream.PullMessagesOpt
	if opts.PullMaxMessages > 0 {
		pull = append(pull, jetstream.PullMaxMessages(opts.PullMaxMessages))
	}
	return r.Consume(cons, pull...)
}

// Consume reads cons, a consumer of the Reader's stream: a durable one
// whose acknowledgements the broker keeps, or any other.
func (r Reader) Consume(cons jetstream.Consumer, opts ...jetstream.PullMessagesOpt) (*Cursor, error) {
	it, err := cons.Messages(opts...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.stream, classify(err))
	}
	return &Cursor{r: r, cons: cons, it: it}, nil
}

// StreamMsg is one message read from the stream, with where it stands.
// Its jetstream.Msg acknowledges it, on a consumer that takes acks.
type StreamMsg struct {
	jetstream.Msg
	// Sequence is the message's stream sequence.
	Sequence uint64
	// Pending counts the messages on the consumer's filter that followed
	// this one in the stream when it was delivered.
	Pending uint64
	// Delivered counts the deliveries of this message to the consumer, 1
	// the first time.
	Delivered uint64
}

// Cursor delivers one consumer's messages in stream order.
type Cursor struct {
	r    Reader
	cons jetstream.Consumer
	it   jetstream.MessagesContext
}

// Next waits for the next message until ctx ends. When it got a message
// its Msg is set, even if it returns an error (ctx ended meanwhile, or
// the message carries no stream metadata), so that the caller can hand it
// back.
func (c *Cursor) Next(ctx context.Context) (StreamMsg, error) {
	m, err := c.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		return StreamMsg{Msg: m}, err
	}
	md, err := m.Metadata()
	if err != nil {
		return StreamMsg{Msg: m}, fmt.Errorf("message on %s has no stream metadata: %w", m.Subject(), err)
	}
	return StreamMsg{Msg: m, Sequence: md.Sequence.Stream, Pending: md.NumPending, Delivered: md.NumDelivered}, nil
}

// Release stops pulling and hands back, unacknowledged (nak), the
// messages the client holds but the reader has not taken, so that whoever
// reads the consumer next gets them at once instead of after the ack
// wait. The naks are fire-and-forget: flush the connection before closing
// it.
func (c *Cursor) Release() {
	c.it.Drain()
	for {
		m, err := c.it.Next()
		if err != nil {
			return
		}
		_ = m.Nak()
	}
}

// Stop ends the read. An ephemeral consumer (an ordered one, or one
// without a durable name) is deleted at once rather than left for the
// server to reap after its inactivity threshold, so that a reader that
// restarts often does not pile consumers up; a durable one stays.
func (c *Cursor) Stop() {
	c.it.Stop()
	info := c.cons.CachedInfo()
	if info == nil || info.Config.Durable != "" || c.r.js.Conn().IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.r.js.DeleteConsumer(ctx, c.r.stream, info.Name)
}
