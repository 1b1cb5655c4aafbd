package events_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/natsembed"
)

// BenchmarkAppendSync appends one event at a time to an embedded server
// under each sync policy, side by side: the cost of syncing every write
// before it is acknowledged, against leaving it to the two-minute timer.
func BenchmarkAppendSync(b *testing.B) {
	for _, policy := range []natsembed.SyncPolicy{natsembed.SyncAlways, natsembed.SyncInterval} {
		b.Run(string(policy), func(b *testing.B) {
			srv, err := natsembed.Start(natsembed.Config{StoreDir: b.TempDir(), Sync: policy})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(srv.Shutdown)
			nc, err := nats.Connect(srv.ClientURL())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(nc.Close)
			s := openStore(b, nc, events.StoreConfig{})
			ctx := context.Background()
			id := newID()
			exp := appendOK(b, s, "experiment", id, 0, []events.Envelope{registered(id)}, "").LastSequence
			ev := learning(id)
			for b.Loop() {
				res, err := s.Append(ctx, "experiment", id, exp, []events.Envelope{ev}, "")
				if err != nil {
					b.Fatal(err)
				}
				exp = res.LastSequence
			}
		})
	}
}
