package events_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
)

// TestReadsSeeAcknowledgedWrites: a direct get is answered by any server
// in the stream's queue group, and a follower or a mirror in it may lag
// behind the writes already acknowledged. On a cluster under load that
// made a command on an experiment just registered through another api
// answer 404, and one just started answer 409 "is planned". Here a
// mirror that opts in to the stream's direct gets but leaves every
// experiment out stands for a replica that lags forever: loads, gets and
// retried writes must still see what was acknowledged.
func TestReadsSeeAcknowledgedWrites(t *testing.T) {
	_, nc := natsembedtest.Start(t)
	s := openStore(t, nc, events.StoreConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := s.JetStream().CreateStream(ctx, jetstream.StreamConfig{
		Name:         "LAGGING",
		Storage:      jetstream.MemoryStorage,
		Mirror:       &jetstream.StreamSource{Name: s.Stream(), FilterSubject: events.SubjectRoot + ".innovation.>"},
		MirrorDirect: true,
	}); err != nil {
		t.Fatal(err)
	}
	// A mirror joins the direct gets once it has caught up on something.
	inn := newID()
	appendOK(t, s, "innovation", inn, 0, []events.Envelope{envelope(events.InnovationRecorded, inn, events.InnovationRecordedV1{
		Team: "growth", Title: "CSV export", Description: "d", LaunchedAt: fixedTime,
	})}, "")
	eventually(t, "the mirror holds the innovation", func() bool {
		st, err := s.JetStream().Stream(ctx, "LAGGING")
		return err == nil && st.CachedInfo().State.Msgs == 1
	})
	id := newID()
	first := appendOK(t, s, "experiment", id, 0, withLearnings(id, 2), "batch-key")

	// The mirror answers about half of the direct gets; enough rounds
	// that every one of them meets it.
	for round := range 24 {
		if recs := load(t, s, "experiment", id); len(recs) != 3 {
			t.Fatalf("round %d: Load = %d events, want the 3 acknowledged", round, len(recs))
		}
		if _, err := s.Get(ctx, first.LastSequence); err != nil {
			t.Fatalf("round %d: Get(%d): %v", round, first.LastSequence, err)
		}
		again, err := s.Append(ctx, "experiment", id, 0, withLearnings(id, 2), "batch-key")
		if err != nil {
			t.Fatalf("round %d: retried Append: %v", round, err)
		}
		if !again.Duplicate || again.FirstSequence != first.FirstSequence || again.LastSequence != first.LastSequence {
			t.Fatalf("round %d: retried Append = %+v, want the duplicate of %+v", round, again, first)
		}
	}
}
