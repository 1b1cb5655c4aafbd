package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
)

// GET /v1/events serves the event stream as server-sent events, for
// consumers that cannot speak NATS: each event is a message with id: its
// stream position, event: its CloudEvents type, and data: its envelope as
// JSON. A client resumes after a dropped connection by sending the last
// id it saw as Last-Event-ID (browsers' EventSource does), or ?after=.
// Events the viewer may not see are left out; see streamAccess.

// EventSource is what GET /v1/events needs of the event store; an
// *events.Store is one.
type EventSource interface {
	// Follow calls fn with every event after position after, in order,
	// then with each new one, until ctx ends or fn returns an error.
	Follow(ctx context.Context, after uint64, subjects []string, fn func(events.Recorded, error) error) error
	// LastSequence returns the position of the newest event.
	LastSequence(ctx context.Context) (uint64, error)
}

var _ EventSource = (*events.Store)(nil)

const (
	// codeUnavailable answers a request for the event stream on a server
	// that has none, or that is shutting down.
	codeUnavailable = "unavailable"
	// streamWriteTimeout drops a client that stops reading: a write that
	// cannot finish in this time ends its stream.
	streamWriteTimeout = 30 * time.Second
	// streamRetry is the reconnection delay sent to clients, in ms.
	streamRetry = 2000
	// maxAccessCache bounds the experiments one stream remembers the
	// visibility of; past it, the cache starts over.
	maxAccessCache = 10000
)

// eventStream is what GET /v1/events shares across requests.
type eventStream struct {
	src       EventSource
	keepAlive time.Duration
	// wait bounds how long a stream waits for the read models to reach an
	// event it must decide the visibility of.
	wait time.Duration
	// closing ends every open stream once CloseStreams is called.
	closing context.Context
	close   context.CancelFunc
	open    prometheus.Gauge
}

func newEventStream(cfg *Config) (*eventStream, error) {
	keepAlive := cfg.StreamKeepAlive
	if keepAlive <= 0 {
		keepAlive = 15 * time.Second
	}
	open := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "http_event_streams_open", Help: "Clients connected to GET /v1/events.",
	})
	if err := cfg.Registry.Register(open); err != nil {
		return nil, fmt.Errorf("httpapi: register event stream metrics: %w", err)
	}
	closing, cancel := context.WithCancel(context.Background())
	return &eventStream{src: cfg.Events, keepAlive: keepAlive, wait: cfg.MinPositionWait, closing: closing, close: cancel, open: open}, nil
}

// CloseStreams ends every open GET /v1/events response and refuses new
// ones. http.Server.Shutdown waits for handlers to return without
// cancelling their requests, and an event stream never returns by itself:
// register CloseStreams with http.Server.RegisterOnShutdown.
func (s *Server) CloseStreams() {
	s.stream.close()
}

// streamRequest is a parsed GET /v1/events.
type streamRequest struct {
	after uint64
	// afterFrom names where after came from, for error messages.
	afterFrom string
	names     []string // event names; empty for every event
	teams     []string // empty for every team
}

func parseStreamRequest(r *http.Request) (streamRequest, error) {
	var req streamRequest
	q := r.URL.Query()
	field, v := "after", q.Get("after")
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		// The header is how a reconnecting client says where it was; it
		// wins over the after= of the URL it reconnects to.
		field, v = "Last-Event-ID", id
	}
	if v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return req, badRequest(string(experiments.CodeInvalid), field, "must be a stream position (a whole number)")
		}
		req.after, req.afterFrom = n, field
	}
	for _, t := range splitParam(q["type"]) {
		name := t
		if strings.HasPrefix(t, events.TypePrefix) {
			n, _, err := events.ParseType(t)
			if err != nil {
				return req, badRequest(string(experiments.CodeInvalid), "type", "%q is not an event type", t)
			}
			name = n
		}
		if !slices.Contains(events.Names, name) {
			return req, badRequest(string(experiments.CodeInvalid), "type", "%q is not an event type (one of %s)", t, strings.Join(events.Names, ", "))
		}
		req.names = append(req.names, name)
	}
	req.teams = splitParam(q["team"])
	return req, nil
}

// splitParam reads a query parameter given repeated, comma-separated, or
// both.
func splitParam(vs []string) []string {
	var out []string
	for _, v := range vs {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// subjects returns the subject filters to follow: those of the requested
// event types, plus, for a viewer who may not see everything, the
// registrations and revisions that decide visibility, so that a stream
// notices when an experiment it shows becomes visible to its team only.
func (req streamRequest) subjects(all bool) []string {
	if len(req.names) == 0 {
		return nil
	}
	names := slices.Clone(req.names)
	if !all {
		names = append(names, events.ExperimentRegistered, events.ExperimentRevised)
	}
	var out []string
	for _, n := range names {
		if s := events.Subject(n, "*"); !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (req streamRequest) wants(name, team string) bool {
	return (len(req.names) == 0 || slices.Contains(req.names, name)) &&
		(len(req.teams) == 0 || slices.Contains(req.teams, team))
}

type streamItem struct {
	rec events.Recorded
	err error
}

func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	es := s.stream
	if es.src == nil || es.closing.Err() != nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{errorDetail{Code: codeUnavailable, Message: "the event stream is not available on this server"}})
		return
	}
	req, head, err := s.parseStream(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(es.closing, cancel)()
	es.open.Inc()
	defer es.open.Dec()

	out, err := startSSE(w)
	defer func() { _ = out.rc.SetWriteDeadline(time.Time{}) }()
	if err != nil {
		return
	}
	p := auth.PrincipalFrom(r.Context())
	access := &streamAccess{queries: s.queries, db: s.db, wait: es.wait, principal: p, head: head, known: map[string]readmodel.ExperimentAccess{}}
	items := make(chan streamItem)
	var wg sync.WaitGroup
	// The follower stops when ctx does; cancel runs before Wait, so that
	// the handler never returns while it still runs.
	defer wg.Wait()
	defer cancel()
	followErr := make(chan error, 1)
	wg.Go(func() {
		followErr <- es.src.Follow(ctx, req.after, req.subjects(p.SeesEverything()), func(rec events.Recorded, err error) error {
			select {
			case items <- streamItem{rec, err}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})
	s.pump(ctx, r, out, access, req, items, followErr)
}

// parseStream reads a GET /v1/events and returns it with the position of
// the newest event.
func (s *Server) parseStream(r *http.Request) (streamRequest, uint64, error) {
	req, err := parseStreamRequest(r)
	if err != nil {
		return req, 0, err
	}
	head, err := s.stream.src.LastSequence(r.Context())
	if err != nil {
		return req, 0, err
	}
	if req.after > head {
		// A position from another deployment, or a typo: waiting for it
		// would look like a stream with nothing to say.
		return req, 0, badRequest(string(experiments.CodeInvalid), req.afterFrom, "position %d is beyond the end of the stream (%d)", req.after, head)
	}
	return req, head, nil
}

// startSSE answers with the headers of an event stream and its
// reconnection delay.
func startSSE(w http.ResponseWriter) (*sseWriter, error) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies that buffer would hold events back
	w.WriteHeader(http.StatusOK)
	out := &sseWriter{w: w, rc: http.NewResponseController(w)}
	return out, out.send(fmt.Sprintf("retry: %d\n\n", streamRetry))
}

// pump sends the events the follower passes on until the stream ends: the
// client goes away, the server shuts down, or an event cannot be decided.
func (s *Server) pump(ctx context.Context, r *http.Request, out *sseWriter, access *streamAccess, req streamRequest,
	items <-chan streamItem, followErr <-chan error) {
	tick := time.NewTicker(s.stream.keepAlive)
	defer tick.Stop()
	sent, scanned := req.after, req.after
	stopped := func(err error) {
		if ctx.Err() == nil {
			s.log.ErrorContext(r.Context(), "event stream stopped", slog.Uint64("position", scanned), slog.Any("err", err))
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-followErr:
			if err != nil {
				stopped(err)
			}
			return
		case it := <-items:
			scanned = it.rec.Sequence
			msg, err := s.message(ctx, r, access, req, it)
			if err != nil {
				stopped(err)
				return // the client reconnects and resumes here
			}
			if msg == "" {
				continue
			}
			if out.send(msg) != nil {
				return
			}
			sent = scanned
		case <-tick.C:
			if out.send(keepAlive(sent, scanned)) != nil {
				return
			}
			sent = scanned
		}
	}
}

// keepAlive is a comment that keeps proxies from timing the connection
// out. When events were passed over since the last one sent, an id-only
// message moves the client's Last-Event-ID past them, so that a
// reconnection does not read them again; it fires no event.
func keepAlive(sent, scanned uint64) string {
	if scanned > sent {
		return fmt.Sprintf(": keep-alive\nid: %d\n\n", scanned)
	}
	return ": keep-alive\n\n"
}

// message returns the server-sent event for one followed event, or ""
// when the viewer does not get it.
func (s *Server) message(ctx context.Context, r *http.Request, access *streamAccess, req streamRequest, it streamItem) (string, error) {
	if it.err != nil {
		// Nobody can decide who may see an event that does not decode;
		// the projector records it as skipped.
		s.log.WarnContext(r.Context(), "event stream skips an undecodable event", slog.Uint64("position", it.rec.Sequence), slog.Any("err", it.err))
		return "", nil
	}
	env, ok, err := present(ctx, access, req, it.rec)
	if err != nil || !ok {
		return "", err
	}
	data, err := json.Marshal(env)
	if err != nil {
		return "", fmt.Errorf("encode event: %w", err)
	}
	return fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", it.rec.Sequence, env.Type, data), nil
}

// present decides whether the viewer gets rec and in which form: with
// the ids of experiments it may not see removed from a registration's
// builds_on, as the history endpoint does.
func present(ctx context.Context, access *streamAccess, req streamRequest, rec events.Recorded) (events.Envelope, bool, error) {
	name, _, err := events.ParseType(rec.Type)
	if err != nil {
		return events.Envelope{}, false, nil
	}
	// Before the check, so that a revision that makes an experiment
	// visible to its team only is itself hidden.
	access.observe(name, rec.Subject)
	if !req.wants(name, rec.Team) || (isWebhookEvent(name) && !seesWebhooks(access.principal)) {
		return events.Envelope{}, false, nil
	}
	if access.principal.SeesEverything() {
		return rec.Envelope, true, nil
	}
	switch name {
	case events.InnovationRecorded:
		return rec.Envelope, true, nil
	case events.StoryPublished, events.StoryRevised, events.StoryRetracted, events.StoryHelped:
		ok, err := access.storyVisible(ctx, rec.Sequence, rec.Subject)
		return rec.Envelope, ok, err
	case events.InnovationLinked, events.InnovationUnlinked:
		// A link names the experiment; a link to one the viewer may not
		// see would tell that it exists.
		var p struct {
			ExperimentID string `json:"experiment_id"`
		}
		if err := json.Unmarshal(rec.Data, &p); err != nil {
			return events.Envelope{}, false, nil
		}
		ok, err := access.visible(ctx, rec.Sequence, p.ExperimentID)
		return rec.Envelope, ok, err
	}
	ok, err := access.visible(ctx, rec.Sequence, rec.Subject)
	if err != nil || !ok || name != events.ExperimentRegistered {
		return rec.Envelope, ok, err
	}
	env := rec.Envelope
	if err := access.load(ctx, rec.Sequence, readmodel.BuildsOn(env.Data)...); err != nil {
		return events.Envelope{}, false, err
	}
	env.Data, err = readmodel.RedactBuildsOn(env.Data, access.sees)
	return env, err == nil, err
}

// isWebhookEvent reports whether name is a webhook subscription's event.
func isWebhookEvent(name string) bool {
	return strings.HasPrefix(name, events.AggregateWebhook+".")
}

// seesWebhooks reports whether p may read webhook subscriptions' events:
// only admins (and the local admin), because a target URL can be a
// credential, which leads, who see every experiment, need not see.
func seesWebhooks(p *experiments.Principal) bool {
	return p == nil || p.Role == experiments.RoleAdmin
}

// streamAccess decides which experiments one stream's viewer may see, by
// the domain's rule (experiments.Principal.CanSee) applied to each
// experiment's team and visibility as the read models hold them, so that
// the stream hides what the queries hide. The stream may run ahead of
// the projector, so before it reads an experiment's visibility it waits
// until the read models have applied the event it decides on, and at
// least every event there was when the stream opened: the visibility an
// experiment has now wins, also over the one its older events were
// written with, as in the read models' lists.
type streamAccess struct {
	queries   *readmodel.Retrying
	db        *readstore.DB
	wait      time.Duration
	principal *experiments.Principal
	// head is the newest position when the stream opened.
	head uint64
	// applied is a position the read models are known to have reached.
	applied uint64
	// known holds what was read of each experiment; a zero entry is one
	// the read models do not have.
	known map[string]readmodel.ExperimentAccess
}

// observe forgets what is known of an experiment whose registration or
// revision the stream passes: its visibility may have changed.
func (a *streamAccess) observe(name, subject string) {
	if name == events.ExperimentRegistered || name == events.ExperimentRevised {
		delete(a.known, subject)
	}
}

// visible reports whether the viewer may see experiment id, deciding at
// position seq. One that does not exist is not visible.
func (a *streamAccess) visible(ctx context.Context, seq uint64, id string) (bool, error) {
	if err := a.load(ctx, seq, id); err != nil {
		return false, err
	}
	return a.sees(id), nil
}

// sees reports whether the viewer may see experiment id, of those load
// has read.
func (a *streamAccess) sees(id string) bool {
	x, ok := a.known[id]
	return ok && x.ID != "" && a.principal.CanSee(x.Team, x.Visibility)
}

// load reads what is not yet known of the experiments ids from the read
// models, once they have applied seq.
func (a *streamAccess) load(ctx context.Context, seq uint64, ids ...string) error {
	var missing []string
	for _, id := range ids {
		if _, ok := a.known[id]; !ok && experiments.ValidID(id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := a.catchUp(ctx, max(seq, a.head)); err != nil {
		return err
	}
	got, err := a.queries.Access(ctx, missing)
	if err != nil {
		return fmt.Errorf("check visibility of experiments: %w", err)
	}
	if len(a.known)+len(missing) > maxAccessCache {
		clear(a.known)
	}
	for _, id := range missing {
		a.known[id] = got[id]
	}
	return nil
}

// catchUp waits until the read models have applied pos.
func (a *streamAccess) catchUp(ctx context.Context, pos uint64) error {
	if pos <= a.applied {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, a.wait)
	defer cancel()
	if err := a.db.WaitForPosition(wctx, pos); err != nil {
		return fmt.Errorf("wait for the read models to decide visibility: %w", err)
	}
	a.applied = pos
	return nil
}

// sseWriter writes server-sent events and flushes each at once.
type sseWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (o *sseWriter) send(msg string) error {
	// Not every ResponseWriter has deadlines; the server's own does.
	_ = o.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := io.WriteString(o.w, msg); err != nil {
		return err
	}
	return o.rc.Flush()
}
