package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// A direct get is answered by whichever server of the stream's queue
// group the request reaches: the leader, a follower that is at least 90%
// caught up, or a mirror that opted in. Its answer can therefore lack
// writes that were acknowledged before it was asked: an aggregate just
// registered through another api reads as missing, a command decides on
// a state two events old. The JetStream API's message get (STREAM.MSG.GET)
// is answered by the stream's leader alone, which stores a write before
// acknowledging it; the store asks it to complete what a direct read saw.
// It costs one more round trip, and one per missing message when the
// direct answer was stale.

// msgGetRequest is the JetStream API's message get request.
type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
	// StartTime asks for the first message at or after it.
	StartTime *time.Time `json:"start_time,omitempty"`
}

// msgGetResponse is its answer: a message, or an API error.
type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Subject  string    `json:"subject"`
		Sequence uint64    `json:"seq"`
		Header   []byte    `json:"hdrs,omitempty"`
		Data     []byte    `json:"data,omitempty"`
		Time     time.Time `json:"time"`
	} `json:"message,omitempty"`
}

// leaderGet asks the stream's leader for one message. A message that does
// not exist is jetstream.ErrMsgNotFound.
func (r Reader) leaderGet(ctx context.Context, req msgGetRequest) (*jetstream.RawStreamMsg, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.js.Options().DefaultTimeout)
		defer cancel()
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	prefix := r.js.Options().APIPrefix
	if prefix == "" {
		prefix = jetstream.DefaultAPIPrefix
	}
	reply, err := r.js.Conn().RequestWithContext(ctx, prefix+"STREAM.MSG.GET."+r.stream, body)
	if err != nil {
		return nil, err
	}
	var resp msgGetResponse
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		return nil, fmt.Errorf("message get on %s: %w", r.stream, err)
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, jetstream.ErrMsgNotFound
	case resp.Error != nil:
		return nil, resp.Error
	case resp.Message == nil:
		return nil, fmt.Errorf("message get on %s: an answer without a message", r.stream)
	}
	m := &jetstream.RawStreamMsg{
		Subject: resp.Message.Subject, Sequence: resp.Message.Sequence,
		Data: resp.Message.Data, Time: resp.Message.Time,
	}
	if len(resp.Message.Header) > 0 {
		if m.Header, err = nats.DecodeHeadersMsg(resp.Message.Header); err != nil {
			return nil, fmt.Errorf("message get on %s: %w", r.stream, err)
		}
	}
	return m, nil
}

// scanToLeader is Scan from sequence from (or, when from is 0, from the
// time since), completed with what the stream's leader holds beyond what
// the direct reads saw, so that the scan includes every write
// acknowledged before it began.
func (r Reader) scanToLeader(ctx context.Context, filter string, from uint64, since time.Time, fn func(*jetstream.RawStreamMsg) bool) error {
	start := jetstreamext.GetBatchStartTime(since)
	if from > 0 {
		start = jetstreamext.GetBatchSeq(from)
	}
	next, stopped := from, false
	err := r.Scan(ctx, filter, start, func(m *jetstream.RawStreamMsg) bool {
		next = m.Sequence + 1
		stopped = !fn(m)
		return !stopped
	})
	if err != nil || stopped {
		return err
	}
	last, err := r.leaderGet(ctx, msgGetRequest{LastFor: filter})
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", filter, classify(err))
	}
	for next <= last.Sequence {
		req := msgGetRequest{Seq: next, NextFor: filter}
		if next == 0 {
			req.StartTime = &since // nothing seen since then: the leader says
		}
		m, err := r.leaderGet(ctx, req)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s from %d: %w", filter, next, classify(err))
		}
		if !fn(m) {
			return nil
		}
		next = m.Sequence + 1
	}
	return nil
}

// getLeader reads the message at seq, from the stream's leader when a
// direct get found none: the replica that answered may not have it yet.
func (r Reader) getLeader(ctx context.Context, st jetstream.Stream, seq uint64) (*jetstream.RawStreamMsg, error) {
	m, err := st.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		m, err = r.leaderGet(ctx, msgGetRequest{Seq: seq})
	}
	return m, err
}
