package events

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Outcomes of the event store that callers act on; every error the store
// returns wraps at most one of them, and keeps the broker's error beside
// it for the logs.
var (
	// ErrConflict reports that the aggregate moved on since the caller
	// read it (the expected sequence is stale) or that another write to
	// it was in flight. Nothing was appended; reload and decide again.
	ErrConflict = errors.New("concurrency conflict")
	// ErrNotFound reports that no event has the requested sequence.
	ErrNotFound = errors.New("event not found")
	// ErrIdempotencyKeyReused reports an idempotency key that an earlier,
	// different write already used, on another aggregate. Nothing was
	// appended.
	ErrIdempotencyKeyReused = errors.New("idempotency key already used by another write")
	// ErrUnavailable reports a broker that cannot take the request right
	// now (no stream leader, too many batches in flight); retrying later
	// may succeed.
	ErrUnavailable = errors.New("event store unavailable")
	// ErrStreamConfig reports an existing stream whose settings could
	// delete, rewrite or stop history; OpenStore refuses to use it rather
	// than change such settings behind an operator's back.
	ErrStreamConfig = errors.New("stream settings put history at risk")
)

// DefaultStream is the name of the stream that holds every event.
const DefaultStream = "TRACKER"

// DuplicateWindow is how long the broker remembers a Nats-Msg-Id. Two
// minutes covers a client's retries of one request; the broker keeps
// every id of the window in memory, so a longer window costs memory in
// proportion to the write rate. Retries later than that are recognised
// from the aggregate's own history (see Append), not by the broker.
const DuplicateWindow = 2 * time.Minute

// MaxBatch is the most events one Append writes: nats-server's default
// limit on the size of an atomic batch.
const MaxBatch = 1000

// JetStream error codes the store interprets; see nats-server's
// server/errors.json.
const (
	// codeWrongLastSequence (JSStreamWrongLastSequenceErrF, "wrong last
	// sequence: {seq}"): an expected sequence did not match the stored
	// one.
	codeWrongLastSequence jetstream.ErrorCode = 10071
	// codeWrongLastSequenceConstant (JSStreamWrongLastSequenceConstantErr,
	// "wrong last sequence", without a sequence): an expectation the
	// server could not check against stored state, because another write
	// to the same subject filter is still in flight (clustered streams,
	// and atomic batches), or because the subject was already written
	// earlier in the same batch. It means a conflict just like 10071.
	codeWrongLastSequenceConstant jetstream.ErrorCode = 10164
	// codeDuplicateInProcess (JSStreamDuplicateMessageConflict): a write
	// with the same Nats-Msg-Id is still in flight.
	codeDuplicateInProcess jetstream.ErrorCode = 10158
	// codeExpectedNotReady (JSStreamExpectedLastSeqPerSubjectNotReady): a
	// new stream leader cannot check expectations yet.
	codeExpectedNotReady jetstream.ErrorCode = 10163
	// codeBatchDuplicateMsgID (JSAtomicPublishContainsDuplicateMessageErr):
	// an atomic batch carried a Nats-Msg-Id the broker has already seen;
	// the whole batch is rejected, and unlike a single publish the answer
	// does not say where the original is.
	codeBatchDuplicateMsgID jetstream.ErrorCode = 10201
	// codeAtomicTooManyInflight and codeBatchTooManyInflight: the server's
	// limit on concurrent batches per stream (50) or per server (1,000).
	codeAtomicTooManyInflight jetstream.ErrorCode = 10210
	codeBatchTooManyInflight  jetstream.ErrorCode = 10211
)

// StoreConfig configures the event store.
type StoreConfig struct {
	// Stream is the JetStream stream holding every event; TRACKER by
	// default.
	Stream string
	// Replicas is how many servers keep a copy of the stream. 0, the
	// default, chooses: 3 on a NATS cluster that can place three replicas
	// (at least three JetStream servers), 1 otherwise.
	Replicas int
	// Out, when set, receives one line for each choice about replicas
	// that an operator should see at startup: a stream scaled up, or a
	// cluster that could not place three replicas.
	Out io.Writer
}

func (c *StoreConfig) setDefaults() {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
}

// Validate reports every problem with the configuration at once.
func (c *StoreConfig) Validate() error {
	var errs []error
	if c.Stream == "" || strings.ContainsAny(c.Stream, ".*> \t\r\n/\\") {
		errs = append(errs, fmt.Errorf("stream name %q is not a valid JetStream name", c.Stream))
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas %d out of range 1-5 (0 chooses)", c.Replicas))
	}
	return errors.Join(errs...)
}

// Store is the JetStream event store: the system of record. It is safe
// for concurrent use.
//
// Two costs worth knowing when wiring it. Each Load (a direct batch get)
// subscribes a fresh inbox, whose channel the connection sizes by its
// SyncQueueLen option: the default of 65,536 slots takes about 0.3 ms to
// allocate, which doubles the time of a short Load; a connection made with
// nats.SyncQueueLen(256) avoids that. And on a single-replica file stream
// nats-server stages each atomic batch in its own file store and fsyncs
// it, so an Append of several events takes milliseconds where one event
// takes tens of microseconds.
type Store struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	name   string
	// window is the stream's duplicate window as configured on the
	// server, which may be longer than DuplicateWindow.
	window time.Duration
}

// OpenStore makes sure the stream exists with the settings the event store
// relies on, and returns a store on it.
//
// A missing stream is created. An existing one is checked: settings that
// can delete, rewrite or block history (limits, Discard old, rollups,
// message TTLs, another storage or retention, other subjects, sealing,
// sources) fail with ErrStreamConfig and a list of what is wrong, because
// history may already be affected and an operator has to look. Settings
// that only add protection or capability are fixed in place: deny delete,
// deny purge, direct get, atomic publish, a duplicate window shorter than
// DuplicateWindow. Fewer replicas than configured, or than a cluster
// allows when cfg.Replicas is 0, are scaled up in place (see
// StoreConfig.Out). More replicas or a longer window than configured are
// kept: lowering them never helps.
func OpenStore(ctx context.Context, nc *nats.Conn, cfg StoreConfig) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	replicas := newReplicaPlan(nc, cfg.Replicas, cfg.Out, "event store")
	want := streamConfig(cfg)
	st, err := replicas.open(ctx, js, want)
	if err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	if st, err = replicas.scale(ctx, js, st); err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	have := st.CachedInfo().Config
	want.Replicas = have.Replicas
	problems, fixed := reconcile(have, want)
	if len(problems) > 0 {
		return nil, fmt.Errorf("open event store: stream %s: %w: %s", cfg.Stream, ErrStreamConfig, strings.Join(problems, "; "))
	}
	if fixed != nil {
		if st, err = js.UpdateStream(ctx, *fixed); err != nil {
			return nil, fmt.Errorf("open event store: update stream %s: %w", cfg.Stream, err)
		}
	}
	return &Store{js: js, stream: st, name: cfg.Stream, window: st.CachedInfo().Config.Duplicates}, nil
}

// streamConfig is the stream as the event store needs it.
func streamConfig(cfg StoreConfig) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "failforward events: the system of record",
		Subjects:    []string{SubjectRoot + ".>"},
		Storage:     jetstream.FileStorage,
		// History is forever: limits retention with every limit off, and
		// Discard new so that a limit set by mistake later refuses writes
		// instead of silently deleting the oldest events.
		Retention:         jetstream.LimitsPolicy,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxAge:            0,
		MaxMsgsPerSubject: -1,
		Discard:           jetstream.DiscardNew,
		DenyDelete:        true,
		DenyPurge:         true,
		// Direct gets let Load read an aggregate without creating a
		// consumer, from any replica.
		AllowDirect: true,
		// One command's events are written as one atomic batch.
		AllowAtomicPublish: true,
		Duplicates:         DuplicateWindow,
	}
}

// reconcile compares an existing stream with the wanted one. It returns
// the settings that put history at risk, and otherwise the configuration
// to update to when a safe fix is due (nil when none is).
func reconcile(have, want jetstream.StreamConfig) (problems []string, fixed *jetstream.StreamConfig) {
	risky := func(bad bool, format string, args ...any) {
		if bad {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	risky(!slices.Equal(have.Subjects, want.Subjects), "subjects are %v, want %v", have.Subjects, want.Subjects)
	risky(have.Storage != jetstream.FileStorage, "storage is %s, want %s", have.Storage, want.Storage)
	risky(have.Retention != jetstream.LimitsPolicy, "retention is %s, want %s", have.Retention, want.Retention)
	risky(have.MaxMsgs > 0, "max msgs is %d, want unlimited", have.MaxMsgs)
	risky(have.MaxBytes > 0, "max bytes is %d, want unlimited", have.MaxBytes)
	risky(have.MaxAge > 0, "max age is %s, want unlimited", have.MaxAge)
	risky(have.MaxMsgsPerSubject > 0, "max msgs per subject is %d, want unlimited", have.MaxMsgsPerSubject)
	risky(have.Discard != jetstream.DiscardNew, "discard policy is %s, want %s", have.Discard, want.Discard)
	risky(have.AllowRollup, "rollups are allowed (a rollup purges history)")
	risky(have.AllowMsgTTL, "per-message TTLs are allowed (they delete events)")
	risky(have.AllowMsgCounter, "the stream is a counter stream")
	risky(have.PersistMode != jetstream.DefaultPersistMode, "persist mode is %s (writes are acknowledged before they are stored)", have.PersistMode)
	risky(have.Sealed, "the stream is sealed")
	risky(have.Mirror != nil || len(have.Sources) > 0, "the stream mirrors or sources other streams")
	risky(have.SubjectTransform != nil, "the stream transforms subjects")
	if len(problems) > 0 {
		return problems, nil
	}

	next := have
	next.DenyDelete = true
	next.DenyPurge = true
	next.AllowDirect = true
	next.AllowAtomicPublish = true
	next.Duplicates = max(have.Duplicates, want.Duplicates)
	next.Replicas = max(have.Replicas, want.Replicas)
	if next.DenyDelete == have.DenyDelete && next.DenyPurge == have.DenyPurge &&
		next.AllowDirect == have.AllowDirect && next.AllowAtomicPublish == have.AllowAtomicPublish &&
		next.Duplicates == have.Duplicates && next.Replicas == have.Replicas {
		return nil, nil
	}
	return nil, &next
}

// Stream returns the name of the stream the store writes to.
func (s *Store) Stream() string {
	return s.name
}

// JetStream returns the JetStream context the store uses, for consumers
// of the stream (the projector, tests).
func (s *Store) JetStream() jetstream.JetStream {
	return s.js
}

// LastSequence returns the stream sequence of the newest event, 0 for an
// empty stream: the position a reader must reach to have seen everything
// written so far.
func (s *Store) LastSequence(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("last sequence of %s: %w", s.name, classify(err))
	}
	return info.State.LastSeq, nil
}

// Get returns the event at stream sequence seq, or ErrNotFound.
func (s *Store) Get(ctx context.Context, seq uint64) (Recorded, error) {
	if seq == 0 {
		return Recorded{}, fmt.Errorf("get event 0: %w", ErrNotFound)
	}
	m, err := s.Reader().getLeader(ctx, s.stream, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return Recorded{}, fmt.Errorf("get event %d: %w", seq, ErrNotFound)
	}
	if err != nil {
		return Recorded{}, fmt.Errorf("get event %d: %w", seq, classify(err))
	}
	rec, err := recorded(m)
	if err != nil {
		return Recorded{}, fmt.Errorf("get event %d: %w", seq, err)
	}
	return rec, nil
}

// recorded decodes a stored message.
func recorded(m *jetstream.RawStreamMsg) (Recorded, error) {
	env, err := Decode(m.Data)
	if err != nil {
		return Recorded{}, fmt.Errorf("event %d on %s: %w", m.Sequence, m.Subject, err)
	}
	return Recorded{Envelope: env, StreamSubject: m.Subject, Sequence: m.Sequence}, nil
}

// classify attaches the store's sentinel to a broker error, keeping the
// broker's error in the chain for logs and errors.As.
func classify(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case codeWrongLastSequence, codeWrongLastSequenceConstant, codeDuplicateInProcess:
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
		if transientCode(apiErr) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	if transient(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// isCode reports whether err carries the JetStream error code.
func isCode(err error, code jetstream.ErrorCode) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == code
}
