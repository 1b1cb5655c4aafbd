// Package projector keeps failforward's read models up to date with the
// event stream. It consumes the JetStream stream through a Watermill
// router, applies events in batches, and writes its position (the last
// stream sequence applied) in the same transaction as the rows, so that
// each event takes effect exactly once across crashes, redeliveries and
// restarts. Rebuild replays the stream into fresh tables and swaps them in.
package projector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmetrics "github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/failforward/failforward/internal/readstore"
)

// ErrGap reports a stream sequence that is not the one after the last
// event applied. The projector consumes the whole stream, so sequences
// arrive contiguous: a gap is lost data or a bug, and the projector halts
// rather than skip over it.
var ErrGap = errors.New("gap in the event stream")

// ErrCheckpointAhead reports a read store whose checkpoint lies beyond the
// end of the stream: it was built from another stream, or the stream was
// recreated. The projector refuses to guess.
var ErrCheckpointAhead = errors.New("read store checkpoint is ahead of the event stream")

// ErrSkipped reports, in strict mode, an event that could not be decoded
// or applied.
var ErrSkipped = errors.New("event skipped in strict mode")

// errCheckpointMoved reports that something else wrote the checkpoint
// since this projector last did: a rebuild that swapped fresh tables in,
// or a second projector. The batch is rolled back and the projector
// resumes from the checkpoint it finds.
var errCheckpointMoved = errors.New("checkpoint moved under the projector")

// errBadMessage reports a message without the stream metadata the
// Subscriber sets: a wiring bug, not a bad event.
var errBadMessage = errors.New("message without stream metadata")

func isFatal(err error) bool {
	return errors.Is(err, ErrGap) || errors.Is(err, ErrCheckpointAhead) ||
		errors.Is(err, ErrSkipped) || errors.Is(err, errBadMessage)
}

// Projector applies the event stream to the read models. Create it with
// New and start it with Run.
type Projector struct {
	cfg  Config
	m    *metrics
	wm   wmetrics.HandlerPrometheusMetricsMiddleware
	wlog watermill.LoggerAdapter

	position   atomic.Uint64
	streamLast atomic.Uint64
	running    atomic.Bool

	id     string       // the lease's holder name
	active atomic.Bool  // holds the lease
	epoch  atomic.Int64 // of the lease held, or last seen

	readyTarget atomic.Int64 // -1 until the first session read the stream
	ready       chan struct{}
	readyOnce   sync.Once
}

// New validates cfg, registers the projector's metrics and returns a
// Projector ready to Run.
func New(cfg Config) (p *Projector, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("projector config: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	p = &Projector{
		cfg:   cfg,
		m:     m,
		id:    newID(),
		ready: make(chan struct{}),
		// Watermill's router logs every start and stop at info; they are
		// routine here, since a session restarts after each failed batch.
		wlog: newWatermillLogger(cfg.Logger.With("component", "watermill")),
	}
	p.readyTarget.Store(-1)
	p.setRole(false, 0)
	// The Watermill metrics builder panics when its collector clashes with
	// one already registered; turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("register watermill metrics: %v", r)
		}
	}()
	p.wm = wmetrics.NewPrometheusMetricsBuilder(cfg.Registerer, "projector", "watermill").NewRouterMiddleware()
	return p, nil
}

// Position returns the stream sequence of the last event the projector
// committed to the read models (or found there when it started).
func (p *Projector) Position() uint64 { return p.position.Load() }

// Lag returns how many events of the stream, as last seen, are not
// applied yet.
func (p *Projector) Lag() uint64 {
	last, pos := p.streamLast.Load(), p.position.Load()
	if last <= pos {
		return 0
	}
	return last - pos
}

// Ready is closed once the projector has applied every event that was in
// the stream when Run started: the read models are then as fresh as the
// stream, give or take the events written since.
func (p *Projector) Ready() <-chan struct{} { return p.ready }

// Run consumes the stream until ctx ends, then finishes the batch in hand
// and returns nil. A failed batch or a lost subscription is retried with
// backoff from the checkpoint in the read store. Run returns an error only
// for what retrying cannot mend: a gap in the stream (ErrGap), a
// checkpoint beyond the stream (ErrCheckpointAhead), or a skip in strict
// mode (ErrSkipped).
//
// The projector applies events only while it holds the read store's
// lease, which it renews as it goes and releases when it stops. With
// Config.Failover it waits for the lease as a standby, and returns to
// waiting when it loses it; without, it takes the lease as it starts.
func (p *Projector) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("projector is already running")
	}
	defer p.running.Store(false)
	nc := p.cfg.Conn
	if nc == nil {
		var err error
		nc, err = nats.Connect(p.cfg.NATSURL, nats.Name("failforward-projector"), nats.MaxReconnects(-1))
		if err != nil {
			return fmt.Errorf("connect to NATS: %w", err)
		}
		defer nc.Close()
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	dl, err := newDeadLetters(p.cfg, nc, p.m)
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	lagCtx, stopLag := context.WithCancel(ctx)
	defer func() { stopLag(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.watchStream(lagCtx, js)
	}()

	take := !p.cfg.Failover
	for {
		l, err := p.awaitLease(ctx, take)
		if err != nil {
			return nil // ctx ended
		}
		take = false
		err = p.lead(ctx, l, nc, js, dl)
		if !errors.Is(err, readstore.ErrLeaseLost) {
			return err
		}
		p.cfg.Logger.Warn("projector lost its lease", "id", p.id, "epoch", l.Epoch, "err", err)
	}
}

// sessions runs sessions under lease l, each resuming from the
// checkpoint after the one before failed, until ctx ends (nil), the
// projector halts, or a batch finds the lease lost.
func (p *Projector) sessions(ctx context.Context, l readstore.Lease, nc *nats.Conn, js jetstream.JetStream, dl *deadLetters) error {
	if err := p.replayFresh(ctx, nc, js); err != nil {
		if isFatal(err) {
			p.cfg.Logger.Error("projector halted", "position", p.Position(), "err", err)
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		p.cfg.Logger.Warn("projector could not replay into fresh tables", "err", err)
	}
	backoff := p.cfg.RetryMin
	for {
		dl.ensureStream(ctx, js)
		progressed, err := p.session(ctx, l, nc, js, dl)
		if isFatal(err) {
			p.cfg.Logger.Error("projector halted", "position", p.Position(), "err", err)
			return err
		}
		if errors.Is(err, readstore.ErrLeaseLost) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if progressed || errors.Is(err, errCheckpointMoved) {
			backoff = p.cfg.RetryMin
		}
		if errors.Is(err, errCheckpointMoved) {
			// Expected after a rebuild swapped fresh tables in.
			p.cfg.Logger.Info("projector resuming from a checkpoint written elsewhere", "err", err)
		} else {
			p.cfg.Logger.Warn("projector resuming from its checkpoint", "position", p.Position(), "after", backoff, "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, p.cfg.RetryMax)
	}
}

// session consumes from the checkpoint until ctx ends, a batch fails
// beyond what retrying in place mends, or the subscription ends. It
// reports whether it committed anything.
func (p *Projector) session(ctx context.Context, l readstore.Lease, nc *nats.Conn, js jetstream.JetStream, dl *deadLetters) (progressed bool, err error) {
	pos, err := p.resume(ctx, js)
	if err != nil {
		return false, err
	}
	sub, err := NewSubscriber(SubscriberConfig{
		Conn:          nc,
		Stream:        p.cfg.Stream,
		StartSequence: pos + 1,
		// One batch read ahead while the one before applies: enough to
		// keep a replay busy, and no more held in memory.
		PullMaxMessages: p.cfg.BatchSize,
		Logger:          p.cfg.Logger,
	})
	if err != nil {
		return false, err
	}
	defer sub.Close()
	routerCtx, stopRouter := context.WithCancel(ctx)
	defer stopRouter()
	h := &batchHandler{p: p, dl: dl, lease: l, pos: pos, halt: stopRouter}
	router, err := p.newRouter(h, sub)
	if err != nil {
		return false, err
	}
	// Run returns once its context ends (the subscription's channel then
	// closes and the router waits for the handler in hand), or when the
	// subscription ends by itself.
	routerErr := router.Run(routerCtx)
	err = h.finish(ctx)
	progressed = h.committed > 0
	switch {
	case err != nil:
		return progressed, err
	case ctx.Err() != nil:
		return progressed, nil
	case routerErr != nil:
		return progressed, fmt.Errorf("projector subscription: %w", routerErr)
	}
	return progressed, errors.New("projector subscription ended")
}

// resume returns the checkpoint to resume after, once it is checked
// against the end of the stream.
func (p *Projector) resume(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	pos, err := p.cfg.DB.Position(ctx)
	if err != nil {
		return 0, err
	}
	p.setPosition(pos)
	last, err := p.readStreamLast(ctx, js)
	if err != nil {
		return 0, err
	}
	if pos > last {
		return 0, fmt.Errorf("%w: checkpoint %d, stream %s ends at %d", ErrCheckpointAhead, pos, p.cfg.Stream, last)
	}
	p.readyTarget.CompareAndSwap(-1, int64(last))
	p.checkReady()
	return pos, nil
}

// newRouter routes the subscription's messages to h through the
// projector's middleware, outermost first: the halt on what retrying
// cannot mend, the recoverer (so that it catches panics in the rest),
// the correlation id, Watermill's Prometheus metrics, and retry with
// backoff right around the handler, so that a failed batch is tried again
// where it stands.
func (p *Projector) newRouter(h *batchHandler, sub message.Subscriber) (*message.Router, error) {
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: commitTimeout + 15*time.Second}, p.wlog)
	if err != nil {
		return nil, fmt.Errorf("projector router: %w", err)
	}
	retry := middleware.Retry{
		MaxRetries:      batchRetries,
		InitialInterval: p.cfg.RetryMin,
		MaxInterval:     p.cfg.RetryMax,
		Multiplier:      2,
		ShouldRetry:     retryable,
		Logger:          p.wlog,
	}
	router.AddMiddleware(h.haltOnError, middleware.Recoverer, correlationFromEnvelope, middleware.CorrelationID,
		p.wm.Middleware, retry.Middleware)
	router.AddConsumerHandler("projector", p.cfg.Subject, sub, h.handle)
	return router, nil
}

func (p *Projector) setPosition(pos uint64) {
	p.position.Store(pos)
	p.m.position.Set(float64(pos))
	p.updateLag()
	p.checkReady()
}

func (p *Projector) observeStreamLast(last uint64) {
	for {
		cur := p.streamLast.Load()
		if last <= cur || p.streamLast.CompareAndSwap(cur, last) {
			break
		}
	}
	p.m.streamLast.Set(float64(p.streamLast.Load()))
	p.updateLag()
}

func (p *Projector) updateLag() { p.m.lag.Set(float64(p.Lag())) }

func (p *Projector) checkReady() {
	target := p.readyTarget.Load()
	if target >= 0 && p.position.Load() >= uint64(target) {
		p.readyOnce.Do(func() { close(p.ready) })
	}
}

// readStreamLast asks the stream for its last sequence.
func (p *Projector) readStreamLast(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	last, err := streamLast(ctx, js, p.cfg.Stream)
	if err != nil {
		return 0, err
	}
	p.observeStreamLast(last)
	return last, nil
}

// streamLast returns the last sequence of stream.
func streamLast(ctx context.Context, js jetstream.JetStream, stream string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	return s.CachedInfo().State.LastSeq, nil
}

// watchStream refreshes the stream's last sequence while no events flow,
// so that the lag metric shows a projector that is stuck.
func (p *Projector) watchStream(ctx context.Context, js jetstream.JetStream) {
	t := time.NewTicker(p.cfg.LagInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if last, err := streamLast(ctx, js, p.cfg.Stream); err == nil {
			p.observeStreamLast(last)
		}
	}
}
