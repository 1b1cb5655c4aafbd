package projector

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/readstore"
)

// Headers of a dead letter, beside the original event's Ce-* headers. Its
// body is the original message body, byte for byte.
const (
	HeaderDeadLetterReason   = "Failforward-Deadletter-Reason"
	HeaderDeadLetterStream   = "Failforward-Deadletter-Stream"
	HeaderDeadLetterSequence = "Failforward-Deadletter-Sequence"
	HeaderDeadLetterSubject  = "Failforward-Deadletter-Subject"
)

// deadLetters publishes skipped events. A dead letter goes out after the
// batch that skipped it committed; should the process die in between,
// the skip is still recorded in the read store (projector_skipped), which
// is the record that counts. Nats-Msg-Id makes a republished dead letter
// a duplicate the stream drops.
type deadLetters struct {
	subject string
	stream  string // "-": core NATS only
	nc      *nats.Conn
	pub     *Publisher
	m       *metrics
	log     *slog.Logger
	ensured bool
}

func newDeadLetters(cfg Config, nc *nats.Conn, m *metrics) (*deadLetters, error) {
	pub, err := NewPublisher(PublisherConfig{Conn: nc})
	if err != nil {
		return nil, err
	}
	return &deadLetters{subject: cfg.DeadLetterSubject, stream: cfg.DeadLetterStream, nc: nc, pub: pub, m: m, log: cfg.Logger}, nil
}

// ensureStream creates the small stream that keeps dead letters, unless it
// exists. It is bounded (and discards its oldest) because it is a
// diagnostic copy: the read store records every skip for good.
func (d *deadLetters) ensureStream(ctx context.Context, js jetstream.JetStream) {
	if d.ensured || d.stream == "-" || d.subject == "-" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        d.stream,
		Description: "failforward events the projector skipped, with the reason",
		Subjects:    []string{d.subject},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxMsgs:     100_000,
		MaxAge:      90 * 24 * time.Hour,
		Duplicates:  time.Hour,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		d.log.Error("cannot create the dead-letter stream; dead letters go to plain NATS until it exists",
			"stream", d.stream, "subject", d.subject, "err", err)
		return
	}
	d.ensured = true
}

// publish sends one dead letter: the skipped event's body with the reason
// in its headers. A failure is logged and counted, not fatal.
func (d *deadLetters) publish(ctx context.Context, s readstore.Skipped, it item) {
	if d.subject == "-" {
		return
	}
	msg := message.NewMessage(firstOf(s.EventID, d.stream+":"+strconv.FormatUint(s.Position, 10)), it.raw)
	for k, v := range it.meta {
		if strings.HasPrefix(k, "Ce-") || k == events.HeaderContentType {
			msg.Metadata[k] = v
		}
	}
	msg.Metadata[HeaderDeadLetterReason] = s.Reason
	msg.Metadata[HeaderDeadLetterStream] = it.meta.Get(MetadataStream)
	msg.Metadata[HeaderDeadLetterSequence] = strconv.FormatUint(s.Position, 10)
	msg.Metadata[HeaderDeadLetterSubject] = it.meta.Get(MetadataSubject)
	msg.Metadata[nats.MsgIdHdr] = "deadletter:" + it.meta.Get(MetadataStream) + ":" + strconv.FormatUint(s.Position, 10)
	msg.SetContext(ctx)

	var err error
	if d.stream == "-" || !d.ensured {
		m := nats.NewMsg(d.subject)
		m.Data = msg.Payload
		for k, v := range msg.Metadata {
			m.Header.Set(k, v)
		}
		err = d.nc.PublishMsg(m)
	} else {
		err = d.pub.Publish(d.subject, msg)
	}
	if err != nil {
		d.m.deadLetterErrs.Inc()
		d.log.Error("cannot publish dead letter", "position", s.Position, "subject", d.subject, "err", err)
		return
	}
	d.m.deadLetters.Inc()
}
