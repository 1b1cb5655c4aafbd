package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/webhooks"
)

// The webhook engine runs in every api process. That is safe with many
// of them: each subscription is delivered through one durable consumer
// in the broker, which hands each event to one worker at a time, so two
// processes share a subscription's deliveries instead of doubling them;
// every process folds every subscription from the stream itself. All of
// them must use the same WEBHOOK_KEY, or receivers see signatures of
// different secrets.

// webhookKeyFile is where embedded mode keeps its generated WEBHOOK_KEY.
const webhookKeyFile = "webhook.key"

// webhookKey returns the server key that subscriptions' secrets are
// derived from, and says where it came from: WEBHOOK_KEY, or in embedded
// mode a key generated on the first start and kept in DATA_DIR. With an
// external NATS and no WEBHOOK_KEY there is none (nil): processes that
// each generated their own would sign with different secrets.
func webhookKey(cfg config) (key []byte, from string, err error) {
	if cfg.WebhookKey != "" {
		return []byte(cfg.WebhookKey), "WEBHOOK_KEY", nil
	}
	if !cfg.embeddedNATS() {
		return nil, "", nil
	}
	path := filepath.Join(cfg.DataDir, webhookKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = newWebhookKey(path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("webhook key: %w", err)
	}
	key = []byte(strings.TrimSpace(string(b)))
	if len(key) < webhooks.MinServerKey {
		return nil, "", fmt.Errorf("webhook key in %s is shorter than %d bytes", path, webhooks.MinServerKey)
	}
	return key, path, nil
}

// newWebhookKey writes a random key to path, readable by its owner only,
// as text that can be copied into WEBHOOK_KEY to keep the same secrets.
func newWebhookKey(path string) ([]byte, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := []byte(base64.RawURLEncoding.EncodeToString(raw))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	// O_EXCL: two processes starting at once on one DATA_DIR must not
	// each keep a key of their own.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(append(key, '\n')); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// startWebhooks starts the webhook engine under wg, or returns nil when
// there is no server key; an engine that fails cancels ctx with why.
func startWebhooks(ctx context.Context, cancel context.CancelCauseFunc, wg *sync.WaitGroup, cfg config,
	store *events.Store, db *readstore.DB, log *slog.Logger, stdout io.Writer) (*webhooks.Manager, error) {
	key, from, err := webhookKey(cfg)
	if err != nil {
		return nil, err
	}
	if key == nil {
		fmt.Fprintln(stdout, "webhooks: off (set WEBHOOK_KEY, the same in every api process, to deliver webhooks)")
		return nil, nil
	}
	queries := readmodel.NewRetrying(readmodel.NewQueries(db))
	m, err := webhooks.NewManager(ctx, webhooks.Config{
		Store: store, ServerKey: key, Visible: readModelVisibility(queries, db, 10*time.Second), Steps: lineageSteps(queries),
		BaseURL: cfg.publicURL(), AllowPrivateTargets: cfg.WebhookAllowPrivate, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	wg.Go(func() {
		if err := m.Run(ctx); err != nil && ctx.Err() == nil {
			cancel(fmt.Errorf("webhooks: %w", err))
		}
	})
	private := ""
	if cfg.WebhookAllowPrivate {
		private = ", private targets allowed"
	}
	fmt.Fprintf(stdout, "webhooks: on, secrets derived from the key in %s%s\n", from, private)
	return m, nil
}

// readModelVisibility decides who may see an event from the read models,
// by the rule the queries and the event stream apply
// (experiments.Principal.CanSee): an experiment's events, and an
// innovation's links to it, go to whoever may see the experiment. The
// engine may read an event before the projector has applied it, so it
// first waits, up to wait, for the read models to reach it; a wait that
// times out is an error, which the engine retries like a failed delivery.
func readModelVisibility(q *readmodel.Retrying, db *readstore.DB, wait time.Duration) webhooks.VisibleFunc {
	return func(ctx context.Context, owner *experiments.Principal, ev events.Recorded) (bool, error) {
		if owner.SeesEverything() {
			return true, nil
		}
		id, ok := experimentOf(ev)
		if id == "" {
			return ok, nil
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		if err := db.WaitForPosition(wctx, ev.Sequence); err != nil {
			return false, fmt.Errorf("wait for the read models to decide visibility: %w", err)
		}
		got, err := q.Access(ctx, []string{id})
		if err != nil {
			return false, fmt.Errorf("check visibility of experiment %s: %w", id, err)
		}
		x, known := got[id]
		return known && owner.CanSee(x.Team, x.Visibility), nil
	}
}

// experimentOf returns the experiment whose visibility decides who sees
// ev; without one, whether everyone (an innovation recorded) or no one
// (an event of an aggregate the rule does not cover) may see it.
func experimentOf(ev events.Recorded) (id string, everyone bool) {
	name, payload, err := events.Payload(&ev.Envelope)
	if err != nil {
		return "", false // an event nobody can read is nobody's to see
	}
	switch p := payload.(type) {
	case *events.InnovationRecordedV1:
		return "", true
	case *events.InnovationLinkedV1:
		return p.ExperimentID, false
	case *events.InnovationUnlinkedV1:
		return p.ExperimentID, false
	}
	if strings.HasPrefix(name, events.AggregateExperiment+".") {
		return ev.Subject, false
	}
	return "", false
}

// lineageSteps counts, from the experiment lineage, the steps between a
// failed experiment and an innovation it fed: 1 when the innovation
// links it, one more for each experiment built on it in between. An
// innovation the read models do not yet show in the lineage is counted
// as linked directly, which is what the event announcing the link says.
func lineageSteps(q *readmodel.Retrying) webhooks.StepsFunc {
	return func(ctx context.Context, experimentID, innovationID string) (int, error) {
		lin, err := q.ExperimentLineage(ctx, readmodel.Viewer{All: true}, experimentID)
		if err != nil {
			return 0, err
		}
		via := experimentID
		for _, inn := range lin.Innovations {
			if inn.ID == innovationID {
				via = inn.Via
			}
		}
		for _, n := range lin.Downstream {
			if n.ID == via {
				return n.Depth + 1, nil
			}
		}
		return 1, nil
	}
}
