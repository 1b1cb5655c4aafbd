package events

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// JetStream error codes that mean "not now": the cluster is electing a
// leader, a peer is catching up, or a server is starting or stopping. See
// nats-server's server/errors.json.
const (
	// codeClusterNotAvailable (JSClusterNotAvailErr, "JetStream system
	// temporarily unavailable"): no meta leader, for instance during an
	// election.
	codeClusterNotAvailable jetstream.ErrorCode = 10008
	// codeClusterNotLeader (JSClusterNotLeaderErr): the request reached a
	// server that lost leadership while answering.
	codeClusterNotLeader jetstream.ErrorCode = 10009
	// codeStreamOffline (JSStreamOfflineErr): the stream's servers are
	// not reachable.
	codeStreamOffline jetstream.ErrorCode = 10118
	// codeBatchAbandoned (JSAtomicPublishIncompleteBatchErr): the server
	// dropped an atomic batch before its commit, for instance because the
	// stream's leader changed while it arrived; nothing of it was stored.
	codeBatchAbandoned = jetstreamext.JSErrCodeBatchPublishIncomplete
)

// transientCode reports a JetStream API error that retrying later may
// cure. Beside the codes above, the server marks such answers with the
// HTTP-like status 503 (not enabled yet, insufficient resources while a
// peer is away, expected sequence not ready on a new leader), and 429
// (too many batches in flight).
func transientCode(e *jetstream.APIError) bool {
	switch e.ErrorCode {
	case codeClusterNotAvailable, codeClusterNotLeader, codeStreamOffline, codeBatchAbandoned,
		codeExpectedNotReady, codeAtomicTooManyInflight, codeBatchTooManyInflight:
		return true
	}
	return e.Code == 503 || e.Code == 429
}

// transient reports a client-side failure to reach JetStream: nobody
// answered (no responders while a stream has no leader), the answer did
// not come in time, or the connection is down. With the api's connection
// made without a reconnect buffer (see cmd/api), a request sent while
// disconnected fails at once instead of being sent later, behind the
// caller's back, after it was told to retry.
func transient(err error) bool {
	for _, target := range []error{
		jetstream.ErrNoStreamResponse, nats.ErrNoResponders, nats.ErrTimeout, context.DeadlineExceeded,
		nats.ErrConnectionClosed, nats.ErrConnectionReconnecting, nats.ErrDisconnected,
		nats.ErrReconnectBufExceeded, nats.ErrConnectionDraining, nats.ErrStaleConnection,
		jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
