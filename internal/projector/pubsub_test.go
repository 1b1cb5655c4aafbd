package projector_test

import (
	"context"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/projector/projectortest"
)

// TestPubSub runs Watermill's universal Pub/Sub suite against the
// JetStream Subscriber and Publisher. Every topic of the suite lives in one
// stream that captures wmtest.>, so that topics need no provisioning.
//
// Features: order is guaranteed (one ordered consumer, one message in
// flight); there are no consumer groups and no exactly-once delivery (a
// new Subscriber starts from its StartSequence, so it sees old messages
// again: that is what a projector replaying from its checkpoint wants).
func TestPubSub(t *testing.T) {
	_, nc := projectortest.StartNATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     "WMTEST",
		Subjects: []string{"wmtest.>"},
		Storage:  jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	url := nc.ConnectedUrl()
	constructor := func(t *testing.T) (message.Publisher, message.Subscriber) {
		// Each pair has its own connection, as separate processes would.
		conn, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(conn.Close)
		pub, err := projector.NewPublisher(projector.PublisherConfig{Conn: conn})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := projector.NewSubscriber(projector.SubscriberConfig{Conn: conn, Stream: "WMTEST", NackResendDelay: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return pub, sub
	}
	tests.TestPubSub(t, tests.Features{
		GuaranteedOrder:                     true,
		GuaranteedOrderWithSingleSubscriber: true,
		Persistent:                          true,
		NewSubscriberReceivesOldMessages:    true,
		GenerateTopicFunc: func(tctx tests.TestContext) string {
			return "wmtest." + string(tctx.TestID)
		},
	}, constructor, nil)
}
