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

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
)

// GET /v1/events serves the event stream as server-sent events, for
// consumers that cannot speak NATS: each event is a message with id: its
// stream position, event: its CloudEvents type, and data: its envelope as
// JSON. A client resumes after a dropped connection by sending the last
// id it saw as Last-Event-ID (browsers' EventSource does), or ?after=.
// Events the viewer may not see are left out; see visibility.

// EventSource is what GET /v1/events needs of the event store; an
// *events.Store is one.
type EventSource interface {
	// Follow calls fn with every event after position after, in order,
	// then with each new one, until ctx ends or fn returns an error.
	Follow(ctx context.Context, after uint64, subjects []string, fn func(events.Recorded, error) error) error
	// Load returns every event of one aggregate, to decide who may see it.
	Load(ctx context.Context, aggregate, id string) ([]events.Recorded, error)
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
	return &eventStream{src: cfg.Events, keepAlive: keepAlive, closing: closing, close: cancel, open: open}, nil
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
func (req streamRequest) subjects(v readmodel.Viewer) []string {
	if len(req.names) == 0 {
		return nil
	}
	names := slices.Clone(req.names)
	if !v.All {
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
	req, err := parseStreamRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	head, err := es.src.LastSequence(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.after > head {
		// A position from another deployment, or a typo: waiting for it
		// would look like a stream with nothing to say.
		s.writeError(w, r, badRequest(string(experiments.CodeInvalid), req.afterFrom, "position %d is beyond the end of the stream (%d)", req.after, head))
		return
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(es.closing, cancel)()
	es.open.Inc()
	defer es.open.Dec()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // proxies that buffer would hold events back
	w.WriteHeader(http.StatusOK)
	out := &sseWriter{w: w, rc: http.NewResponseController(w)}
	defer func() { _ = out.rc.SetWriteDeadline(time.Time{}) }()
	if err := out.send(fmt.Sprintf("retry: %d\n\n", streamRetry)); err != nil {
		return
	}

	viewer := viewerOf(r)
	items := make(chan streamItem)
	var wg sync.WaitGroup
	// The follower stops when ctx does; cancel runs before Wait, so that
	// the handler never returns while it still runs.
	defer wg.Wait()
	defer cancel()
	followErr := make(chan error, 1)
	wg.Go(func() {
		followErr <- es.src.Follow(ctx, req.after, req.subjects(viewer), func(rec events.Recorded, err error) error {
			select {
			case items <- streamItem{rec, err}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	})

	access := &visibility{src: es.src, viewer: viewer, known: map[string]*experimentAccess{}}
	tick := time.NewTicker(es.keepAlive)
	defer tick.Stop()
	sent, scanned := req.after, req.after
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-followErr:
			if err != nil && ctx.Err() == nil {
				s.log.ErrorContext(r.Context(), "event stream stopped", slog.Uint64("position", scanned), slog.Any("err", err))
			}
			return
		case it := <-items:
			scanned = it.rec.Sequence
			if it.err != nil {
				// Nobody can decide who may see an event that does not
				// decode; the projector records it as skipped.
				s.log.WarnContext(r.Context(), "event stream skips an undecodable event", slog.Uint64("position", scanned), slog.Any("err", it.err))
				continue
			}
			env, ok, err := s.present(ctx, access, req, it.rec)
			if err != nil {
				if ctx.Err() == nil {
					s.log.ErrorContext(r.Context(), "event stream stopped", slog.Uint64("position", scanned), slog.Any("err", err))
				}
				return // the client reconnects and resumes here
			}
			if !ok {
				continue
			}
			data, err := json.Marshal(env)
			if err != nil {
				s.log.ErrorContext(r.Context(), "event stream cannot encode an event", slog.Uint64("position", scanned), slog.Any("err", err))
				return
			}
			if err := out.send(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", scanned, env.Type, data)); err != nil {
				return
			}
			sent = scanned
		case <-tick.C:
			// A comment keeps proxies from timing the connection out. When
			// events were passed over since the last one sent, an id-only
			// message moves the client's Last-Event-ID past them, so that a
			// reconnection does not read them again; it fires no event.
			msg := ": keep-alive\n\n"
			if scanned > sent {
				msg = fmt.Sprintf(": keep-alive\nid: %d\n\n", scanned)
			}
			if err := out.send(msg); err != nil {
				return
			}
			sent = scanned
		}
	}
}

// present decides whether the viewer gets rec and in which form: with
// the ids of experiments it may not see removed from a registration's
// builds_on, as the history endpoint does.
func (s *Server) present(ctx context.Context, access *visibility, req streamRequest, rec events.Recorded) (events.Envelope, bool, error) {
	name, _, err := events.ParseType(rec.Type)
	if err != nil {
		return events.Envelope{}, false, nil
	}
	// Before the check, so that a revision that makes an experiment
	// visible to its team only is itself hidden.
	access.observe(&rec)
	if !req.wants(name, rec.Team) {
		return events.Envelope{}, false, nil
	}
	if access.viewer.All {
		return rec.Envelope, true, nil
	}
	switch name {
	case events.InnovationRecorded:
		return rec.Envelope, true, nil
	case events.InnovationLinked, events.InnovationUnlinked:
		// A link names the experiment; a link to one the viewer may not
		// see would tell that it exists.
		var p struct {
			ExperimentID string `json:"experiment_id"`
		}
		if err := json.Unmarshal(rec.Data, &p); err != nil {
			return events.Envelope{}, false, nil
		}
		ok, err := access.visible(ctx, p.ExperimentID)
		return rec.Envelope, ok, err
	}
	ok, err := access.visible(ctx, rec.Subject)
	if err != nil || !ok {
		return events.Envelope{}, false, err
	}
	if name == events.ExperimentRegistered {
		return access.redactBuildsOn(ctx, rec.Envelope)
	}
	return rec.Envelope, true, nil
}

// visibility decides which experiments one stream's viewer may see, by
// the rule every query follows (readmodel.Viewer): an experiment with
// visibility "team" only to its team, leads and admins. It reads the
// experiment's own events from the event store rather than the read
// model, because the stream runs ahead of the projector: an event may
// arrive before its experiment is in the read model. An experiment is
// loaded once, at its current state, and kept current from then on by the
// registrations and revisions the stream passes.
type visibility struct {
	src    EventSource
	viewer readmodel.Viewer
	known  map[string]*experimentAccess
}

// experimentAccess is what visibility needs to know of one experiment.
type experimentAccess struct {
	exists     bool
	team       string
	visibility string
	// upTo is the position of the last event folded in.
	upTo uint64
}

func (a *experimentAccess) apply(rec *events.Recorded) {
	if rec.Sequence <= a.upTo {
		return
	}
	a.upTo = rec.Sequence
	_, p, err := events.Payload(&rec.Envelope)
	if err != nil {
		return
	}
	switch p := p.(type) {
	case *events.ExperimentRegisteredV1:
		a.exists, a.team, a.visibility = true, p.Team, p.Visibility
	case *events.ExperimentRevisedV1:
		if p.Visibility != nil {
			a.visibility = *p.Visibility
		}
	}
}

// observe folds an experiment event the stream passes into what is known
// of its experiment.
func (v *visibility) observe(rec *events.Recorded) {
	if a, ok := v.known[rec.Subject]; ok && strings.HasPrefix(rec.Type, events.TypePrefix+events.AggregateExperiment+".") {
		a.apply(rec)
	}
}

// visible reports whether the viewer may see experiment id. One that does
// not exist, or whose registration does not decode, is not visible.
func (v *visibility) visible(ctx context.Context, id string) (bool, error) {
	if v.viewer.All {
		return true, nil
	}
	a, ok := v.known[id]
	if !ok {
		if !experiments.ValidID(id) {
			return false, nil
		}
		recs, err := v.src.Load(ctx, events.AggregateExperiment, id)
		if err != nil {
			return false, fmt.Errorf("check visibility of experiment %s: %w", id, err)
		}
		a = &experimentAccess{}
		for i := range recs {
			a.apply(&recs[i])
		}
		if len(v.known) >= maxAccessCache {
			clear(v.known)
		}
		v.known[id] = a
	}
	return a.exists && (a.visibility != experiments.VisibilityTeam || slices.Contains(v.viewer.Teams, a.team)), nil
}

// redactBuildsOn returns env with the experiments the viewer may not see
// removed from its builds_on. Data that loses nothing is sent as written.
func (v *visibility) redactBuildsOn(ctx context.Context, env events.Envelope) (events.Envelope, bool, error) {
	var data map[string]json.RawMessage
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return events.Envelope{}, false, nil
	}
	var ids []string
	if raw, ok := data["builds_on"]; !ok || json.Unmarshal(raw, &ids) != nil || len(ids) == 0 {
		return env, true, nil
	}
	kept := make([]string, 0, len(ids))
	for _, id := range ids {
		ok, err := v.visible(ctx, id)
		if err != nil {
			return events.Envelope{}, false, err
		}
		if ok {
			kept = append(kept, id)
		}
	}
	if len(kept) == len(ids) {
		return env, true, nil
	}
	var err error
	if data["builds_on"], err = json.Marshal(kept); err != nil {
		return events.Envelope{}, false, err
	}
	if env.Data, err = json.Marshal(data); err != nil {
		return events.Envelope{}, false, err
	}
	return env, true, nil
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
