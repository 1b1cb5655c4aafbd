package projector

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Conn is the NATS connection to publish through. Required; the
	// Publisher never closes it.
	Conn *nats.Conn
	// Timeout bounds each publish, acknowledgement included; 5s by
	// default.
	Timeout time.Duration
}

func (c *PublisherConfig) setDefaults() {
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
}

// Validate reports every problem with the configuration at once.
func (c *PublisherConfig) Validate() error {
	var errs []error
	if c.Conn == nil {
		errs = append(errs, errors.New("publisher: a NATS connection is required"))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("publisher: timeout %s is negative", c.Timeout))
	}
	return errors.Join(errs...)
}

// Publisher is a Watermill message.Publisher that writes to JetStream and
// waits for the stream's acknowledgement: the topic is the NATS subject,
// which a stream must capture. Metadata becomes NATS headers as it is, so
// a caller that wants the stream to drop duplicates sets Nats-Msg-Id; the
// UUID travels in the Watermill-Uuid header.
//
// The projector uses it for dead letters; it also lets Watermill's
// universal Pub/Sub test suite exercise the Subscriber.
type Publisher struct {
	cfg    PublisherConfig
	js     jetstream.JetStream
	closed atomic.Bool
}

var _ message.Publisher = (*Publisher)(nil)

// ErrPublisherClosed is returned by Publish after Close.
var ErrPublisherClosed = errors.New("publisher is closed")

// NewPublisher returns a Publisher configured by cfg.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	js, err := jetstream.New(cfg.Conn)
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	return &Publisher{cfg: cfg, js: js}, nil
}

// Publish writes msgs to topic in order, each once the stream has
// acknowledged the one before, and stops at the first failure.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return ErrPublisherClosed
	}
	for _, msg := range msgs {
		m := nats.NewMsg(topic)
		m.Data = msg.Payload
		for k, v := range msg.Metadata {
			m.Header.Set(k, v)
		}
		m.Header.Set(HeaderUUID, msg.UUID)
		ctx, cancel := context.WithTimeout(msg.Context(), p.cfg.Timeout)
		_, err := p.js.PublishMsg(ctx, m)
		cancel()
		if err != nil {
			return fmt.Errorf("publish message %s to %s: %w", msg.UUID, topic, err)
		}
	}
	return nil
}

// Close makes later publishes fail; it does not close the connection.
func (p *Publisher) Close() error {
	p.closed.Store(true)
	return nil
}
