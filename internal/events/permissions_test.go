package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// deployDir is the repository's deploy folder, as seen from this package.
var deployDir = filepath.Join("..", "..", "deploy")

// startDeployedServer runs nats-server with the production configuration,
// deploy/nats.conf, on a free port and a temporary store.
func startDeployedServer(t *testing.T) *server.Server {
	t.Helper()
	t.Setenv("FAILFORWARD_NATS_PASSWORD", "failforward-secret")
	t.Setenv("DOWNSTREAM_NATS_PASSWORD", "downstream-secret")
	opts, err := server.ProcessConfigFile(filepath.Join(deployDir, "nats.conf"))
	if err != nil {
		t.Fatalf("deploy/nats.conf: %v", err)
	}
	opts.Port = -1
	opts.HTTPPort = 0
	opts.StoreDir = t.TempDir()
	opts.NoLog, opts.NoSigs = true, true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server with deploy/nats.conf is not ready")
	}
	return s
}

// violations collects the permission errors the server reports to a
// connection asynchronously.
type violations struct {
	mu   sync.Mutex
	errs []error
}

func (v *violations) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.errs = append(v.errs, err)
}

func (v *violations) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := 0
	for _, err := range v.errs {
		if errors.Is(err, nats.ErrPermissionViolation) {
			n++
		}
	}
	return n
}

// TestDownstreamUserPermissions checks deploy/nats.conf as a downstream
// service meets it: it can set up its mirror and read every event through
// durable and ordered consumers, and it can neither publish into
// tracker.> nor get anything into the system of record by other means.
func TestDownstreamUserPermissions(t *testing.T) {
	s := startDeployedServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// failforward's own processes, in account TRACKER.
	own, err := nats.Connect(s.ClientURL(), nats.UserInfo("failforward", "failforward-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	store, err := events.OpenStore(ctx, own, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	tr := &tracker{nc: own, store: store, svc: svc}
	tr.write(t, 10)

	// A downstream service, in account DOWNSTREAM.
	var denied violations
	ds, err := nats.Connect(s.ClientURL(), nats.UserInfo("downstream", "downstream-secret"), nats.ErrorHandler(denied.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	djs, err := jetstream.New(ds)
	if err != nil {
		t.Fatal(err)
	}
	mirror := createMirror(ctx, t, djs)
	waitFor(t, func() bool {
		info, err := mirror.Info(ctx)
		return err == nil && info.State.LastSeq == 10
	})

	t.Run("reads through a durable consumer", func(t *testing.T) {
		var h handled
		subscribeUntil(t, ds, "notifier", &h, events.SubscribeOptions{}, func(n int) bool { return n == 10 })
		if got := h.list(); !slices.Equal(got, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) {
			t.Errorf("downstream read %v, want the mirror's sequences to be the origin's, 1..10", got)
		}
	})
	t.Run("reads through an ordered consumer and direct gets", func(t *testing.T) {
		oc, err := djs.OrderedConsumer(ctx, "TRACKER", jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		batch, err := oc.Fetch(10, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for range batch.Messages() {
			n++
		}
		if n != 10 {
			t.Errorf("ordered consumer fetched %d events, want 10", n)
		}
		got, err := mirror.GetMsg(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		want := rawMsg(t, store, 3)
		if got.Subject != want.Subject || string(got.Data) != string(want.Data) {
			t.Errorf("mirror's event 3 is %s, origin's is %s", got.Subject, want.Subject)
		}
	})

	t.Run("cannot write into the system of record", func(t *testing.T) {
		id := "01JABCDEFGHJKMNPQRSTVWXYZ0"
		before := denied.count()
		// A straight publish into tracker.>.
		if err := ds.Publish(events.Subject(events.ExperimentRegistered, id), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		// A JetStream API request whose reply subject is in tracker.>: in
		// one account, the server's answer would be stored as an event.
		req := nats.NewMsg("$JS.API.STREAM.INFO.TRACKER")
		req.Reply = events.Subject(events.ExperimentRegistered, id)
		if err := ds.PublishMsg(req); err != nil {
			t.Fatal(err)
		}
		// TRACKER's own JetStream API, reached through the mirror's import.
		evil := nats.NewMsg("$JS.tracker.API.CONSUMER.CREATE.TRACKER")
		evil.Data = []byte(`{"stream_name":"TRACKER","config":{"deliver_subject":"tracker.experiment.x.registered"}}`)
		_ = ds.PublishMsg(evil)
		// The mirror itself is not the downstream user's to delete. A denied
		// request is never answered, so it waits out a short deadline.
		short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancelShort()
		if err := djs.DeleteStream(short, "TRACKER"); err == nil {
			t.Error("the downstream user deleted the mirror")
		}
		if err := ds.Flush(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return denied.count() >= before+3 })

		// Whatever reached the server, the origin holds only what
		// failforward wrote, and still takes writes.
		if last, err := store.LastSequence(ctx); err != nil || last != 10 {
			t.Errorf("origin's last sequence = %d, %v; want 10", last, err)
		}
		tr.write(t, 1)
		waitFor(t, func() bool {
			info, err := mirror.Info(ctx)
			return err == nil && info.State.LastSeq == 11
		})
		info, err := mirror.Info(ctx)
		if err != nil || info.State.Msgs != 11 {
			t.Errorf("mirror holds %d events, %v; want 11", info.State.Msgs, err)
		}
	})
}

// createMirror creates DOWNSTREAM's mirror from deploy/downstream-mirror.json,
// as an operator would with `nats stream add --config`.
func createMirror(ctx context.Context, t *testing.T, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "downstream-mirror.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg jetstream.StreamConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("deploy/downstream-mirror.json: %v", err)
	}
	st, err := js.CreateStream(ctx, cfg)
	if err != nil {
		t.Fatalf("create the mirror: %v", err)
	}
	// Creating it again, as a second service starting up might, is fine.
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Errorf("create the mirror again: %v", err)
	}
	return st
}

// TestReplySubjectsBypassPublishPermissions documents why deploy/nats.conf
// puts downstream users in an account of their own: inside one account, a
// user denied publishing to tracker.> still gets a message stored in the
// stream by naming a tracker.> subject as the reply to a JetStream API
// request. Should a nats-server release close that hole, this test fails,
// and a single account with the permissions alone would do.
func TestReplySubjectsBypassPublishPermissions(t *testing.T) {
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
		Users: []*server.User{
			{Username: "owner", Password: "o"},
			{Username: "reader", Password: "r", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{"$JS.API.STREAM.INFO.TRACKER"}, Deny: []string{"tracker.>"}},
			}},
		},
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	ctx := context.Background()
	owner, err := nats.Connect(s.ClientURL(), nats.UserInfo("owner", "o"))
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	store, err := events.OpenStore(ctx, owner, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	reader, err := nats.Connect(s.ClientURL(), nats.UserInfo("reader", "r"))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	req := nats.NewMsg("$JS.API.STREAM.INFO.TRACKER")
	req.Reply = events.Subject(events.ExperimentRegistered, "01JABCDEFGHJKMNPQRSTVWXYZ0")
	if err := reader.PublishMsg(req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		last, err := store.LastSequence(ctx)
		return err == nil && last == 1
	})
}
