// Package natsembedtest starts an embedded JetStream server for tests, so
// that every test gets a real, private, disposable broker.
package natsembedtest

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/failforward/failforward/internal/natsembed"
)

// Start starts an embedded server on a free port with its store in a
// temporary directory, connects to it, and registers cleanups that close
// the connection and shut the server down when the test ends.
func Start(tb testing.TB) (*natsembed.Server, *nats.Conn) {
	tb.Helper()
	srv, err := natsembed.Start(natsembed.Config{
		StoreDir:   tb.TempDir(),
		Port:       -1,
		ServerName: "test",
		// A test's broker does not outlive a power loss anyway, and an
		// fsync per write would slow every test that writes.
		Sync: natsembed.SyncInterval,
	})
	if err != nil {
		tb.Fatalf("start embedded nats: %v", err)
	}
	// Cleanups run last-in first-out: the connection closes before the
	// server stops, so no reconnect attempts race the shutdown.
	tb.Cleanup(srv.Shutdown)
	nc, err := nats.Connect(srv.ClientURL(), nats.Name(tb.Name()))
	if err != nil {
		tb.Fatalf("connect to embedded nats: %v", err)
	}
	tb.Cleanup(nc.Close)
	return srv, nc
}
