package natsembed

import "fmt"

// SyncPolicy says when the embedded JetStream server forces written
// messages from the operating system's cache to the disk.
type SyncPolicy string

// The sync policies.
const (
	// SyncAlways syncs each write before the server acknowledges it
	// (nats-server's sync_interval: always). An acknowledged event
	// survives a crash of the process, of the operating system and a
	// power loss; every write pays for an fsync.
	SyncAlways SyncPolicy = "always"
	// SyncInterval leaves the syncing to nats-server's timer, every two
	// minutes. An acknowledged event has reached the operating system, so
	// it survives a crash of the process, but a crash of the machine or a
	// power loss can lose up to the last two minutes of acknowledged
	// events.
	SyncInterval SyncPolicy = "interval"
)

// Validate reports a policy that is neither SyncAlways nor SyncInterval.
func (p SyncPolicy) Validate() error {
	switch p {
	case SyncAlways, SyncInterval:
		return nil
	}
	return fmt.Errorf("sync policy %q is not %q or %q", string(p), SyncAlways, SyncInterval)
}
