package projector

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/readstore"
)

// commitTimeout bounds one batch's transaction. The work outlives the
// message's context, so that a shutdown finishes the batch in hand
// instead of abandoning it; it stays below the router's close timeout.
const commitTimeout = 30 * time.Second

// batchRetries is how many times the router's retry middleware tries a
// failed batch again, with backoff from Config.RetryMin to RetryMax,
// before the session ends and the projector resumes from its checkpoint.
const batchRetries = 5

// batchHandler is the router's handler, and it does the projector's
// work: it places each event in the batch in hand and commits the batch,
// its skipped events and the new position in one transaction when the
// batch is full or the stream has nothing more to deliver (batches fill
// while the projector is behind, and a lone event on a quiet stream is
// applied at once). So the router's middleware (retry with backoff,
// metrics) wraps the commit itself.
//
// The subscriber delivers one message at a time, each after the previous
// one was acked, so the handler never runs twice at once. One handler
// lives for one session; it owns the position it expects the checkpoint
// to hold.
type batchHandler struct {
	p         *Projector
	dl        *deadLetters
	lease     readstore.Lease // every commit checks that it still holds
	pos       uint64          // last committed sequence
	pending   []item
	committed int

	// halt ends the session; err is why.
	halt context.CancelFunc
	mu   sync.Mutex
	err  error
}

// handle places msg in the batch and commits the batch when it is due. It returns, and so acks, before an event is committed unless
// it completes the batch: the ack is flow control only, and the
// checkpoint in the read store is what a restart resumes from. Called
// again with a message it holds already (a retry), it only commits.
func (h *batchHandler) handle(msg *message.Message) error {
	it := placeItem(msg)
	halt := it.err
	if halt == nil {
		halt = h.add(it)
	}
	if halt == nil && len(h.pending) < h.p.cfg.BatchSize && it.pending > 0 {
		return nil
	}
	// Before halting, commit what is contiguous, so that the checkpoint
	// stops right before the gap or the bad message.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), commitTimeout)
	defer cancel()
	if err := h.flush(ctx); err != nil {
		return err
	}
	return halt
}

// add places one event in the batch, after checking that it is the next
// in the stream; an event beyond the next is a gap.
func (h *batchHandler) add(it item) error {
	want := h.pos + 1
	if n := len(h.pending); n > 0 {
		want = h.pending[n-1].seq + 1
	}
	switch {
	case it.seq <= h.pos:
		// A redelivery of something already applied.
		h.p.m.redelivered.Inc()
	case it.seq < want:
		// A retry of a message in the batch in hand.
	case it.seq > want:
		return fmt.Errorf("%w: stream %s: expected sequence %d, got %d (%d events missing)",
			ErrGap, h.p.cfg.Stream, want, it.seq, it.seq-want)
	default:
		h.pending = append(h.pending, it)
	}
	return nil
}

// haltOnError is the outermost middleware: an error that reaches it is
// one the retry middleware would not or could not mend, so it ends the
// session. Run then halts, or resumes from the checkpoint. The retry
// middleware giving up because the session is ending anyway is no
// error: the batch in hand is still committed on the way out.
func (h *batchHandler) haltOnError(next message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := next(msg)
		if msg.Context().Err() != nil && errors.Is(err, msg.Context().Err()) {
			return out, err
		}
		if err != nil {
			h.mu.Lock()
			if h.err == nil {
				h.err = err
			}
			h.mu.Unlock()
			h.halt()
		}
		return out, err
	}
}

// retryable tells the retry middleware which errors are worth another
// attempt in place: not a halt, not a checkpoint that moved (the session
// must start again from the one it finds), and not a lost lease (the
// projector must stand by).
func retryable(p middleware.RetryParams) bool {
	return !isFatal(p.Err) && !errors.Is(p.Err, errCheckpointMoved) && !errors.Is(p.Err, readstore.ErrLeaseLost)
}

// finish commits the batch in hand when the session ends without an
// error, and returns the error that ended it, if any.
func (h *batchHandler) finish(ctx context.Context) error {
	h.mu.Lock()
	err := h.err
	h.mu.Unlock()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return h.flush(ctx)
}

// flush commits the pending batch, then publishes its dead letters.
func (h *batchHandler) flush(ctx context.Context) error {
	if len(h.pending) == 0 {
		return nil
	}
	start := h.p.cfg.Now()
	first, last := h.pending[0].seq, h.pending[len(h.pending)-1].seq
	recs := make([]events.Recorded, 0, len(h.pending))
	var skipped []readstore.Skipped
	for i := range h.pending {
		it := &h.pending[i]
		it.decode()
		if it.skip != nil {
			skipped = append(skipped, *it.skip)
		} else {
			recs = append(recs, it.rec)
		}
	}
	spans := h.startApplySpans(ctx, recs)
	skipped, err := h.commit(ctx, recs, skipped, last)
	endApplySpans(spans, err)
	if err != nil {
		h.p.m.batchFailures.Inc()
		return fmt.Errorf("apply events %d..%d: %w", first, last, err)
	}
	n := len(h.pending)
	h.pos = last
	h.committed += n
	h.p.m.applied.Add(float64(n))
	h.p.m.batchSize.Observe(float64(n))
	h.p.m.batchDuration.Observe(h.p.cfg.Now().Sub(start).Seconds())
	h.p.m.skipped.Add(float64(len(skipped)))
	h.p.observeStreamLast(last + h.pending[n-1].pending)
	h.p.setPosition(last)
	for _, s := range skipped {
		var it item
		if s.Position >= first && s.Position <= last {
			it = h.pending[s.Position-first]
		}
		h.p.cfg.Logger.Warn("event skipped", "position", s.Position, "event_id", s.EventID,
			"event_type", s.EventType, "correlation_id", it.meta.Get(middleware.CorrelationIDMetadataKey), "reason", s.Reason)
		h.dl.publish(ctx, s, it)
	}
	clear(h.pending) // drop references to the payloads
	h.pending = h.pending[:0]
	return nil
}

// commit writes the batch in one transaction: the read-model rows, the
// skipped events and the new position. It first locks the checkpoint and
// checks, in the same transaction, that the projector's lease still holds
// (a projector that was replaced writes nothing) and that the checkpoint
// still holds the position this handler started from, so that a
// rebuild's swap or a second projector can never make an event apply
// twice or not at all.
func (h *batchHandler) commit(ctx context.Context, recs []events.Recorded, skipped []readstore.Skipped, last uint64) ([]readstore.Skipped, error) {
	tx, err := h.p.cfg.DB.BeginLeased(ctx, h.lease)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	cur, err := tx.LockPosition(ctx)
	if err != nil {
		return nil, err
	}
	if cur != h.pos {
		return nil, fmt.Errorf("%w: expected %d, found %d", errCheckpointMoved, h.pos, cur)
	}
	if len(recs) > 0 {
		more, err := h.p.cfg.Applier.ApplyBatch(ctx, tx, recs)
		if err != nil {
			return nil, err
		}
		skipped = append(skipped, more...)
	}
	if h.p.cfg.Strict && len(skipped) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrSkipped, describeSkips(skipped))
	}
	if err := readstore.RecordSkipped(ctx, tx, skipped); err != nil {
		return nil, err
	}
	if err := readstore.SetPosition(ctx, tx, last); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return skipped, nil
}

func describeSkips(skipped []readstore.Skipped) string {
	parts := make([]string, 0, min(len(skipped), 3))
	for i, s := range skipped {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(skipped)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("sequence %d (%s %s): %s", s.Position, s.EventType, s.EventID, s.Reason))
	}
	return strings.Join(parts, "; ")
}

// item is one message in the batch in hand: a decoded event, or the
// reason it could not be decoded.
type item struct {
	seq     uint64
	pending uint64
	raw     []byte
	meta    message.Metadata
	rec     events.Recorded
	skip    *readstore.Skipped
	err     error // a message the projector cannot place in the stream
	decoded bool  // rec or skip holds the decoded event
}

// placeItem reads where msg stands in the stream; its event is decoded
// with the batch (item.decode). Decoding it here, in the goroutine the
// router starts for each message, would grow a fresh stack for every
// event: a replay's batches decode theirs in one.
func placeItem(msg *message.Message) item {
	seq, err := strconv.ParseUint(msg.Metadata.Get(MetadataSequence), 10, 64)
	if err != nil || seq == 0 {
		return item{err: fmt.Errorf("%w: message %s", errBadMessage, msg.UUID)}
	}
	pending, _ := strconv.ParseUint(msg.Metadata.Get(MetadataPending), 10, 64)
	return item{seq: seq, pending: pending, raw: msg.Payload, meta: msg.Metadata}
}

// decode decodes the item's event once, or records why it is skipped.
func (it *item) decode() {
	if it.decoded {
		return
	}
	it.decoded = true
	skip := func(reason string) {
		it.skip = &readstore.Skipped{
			Position:  it.seq,
			EventID:   it.meta.Get(events.HeaderID),
			EventType: it.meta.Get(events.HeaderType),
			Reason:    reason,
		}
	}
	// A panic while decoding one event skips that event; it must not stop
	// the projector or loop on redelivery.
	defer func() {
		if r := recover(); r != nil {
			skip(fmt.Sprintf("panic while decoding: %v", r))
		}
	}()
	env, err := events.Decode(it.raw)
	if err != nil {
		skip(err.Error())
		return
	}
	if it.meta.Get(middleware.CorrelationIDMetadataKey) == "" && env.CorrelationID != "" {
		it.meta.Set(middleware.CorrelationIDMetadataKey, env.CorrelationID)
	}
	it.rec = events.Recorded{Envelope: env, StreamSubject: it.meta.Get(MetadataSubject), Sequence: it.seq}
}

// correlationFromEnvelope carries the event's correlation id, which the
// event store copies from the envelope into a NATS header, into the
// Watermill metadata where middleware and logs look for it.
func correlationFromEnvelope(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		if id := msg.Metadata.Get(events.HeaderCorrelationID); id != "" {
			middleware.SetCorrelationID(id, msg)
		}
		return h(msg)
	}
}
