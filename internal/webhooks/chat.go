package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
)

// chatText renders the chat notification of rec, and false for an event
// the chat format has no notification for.
func (m *Manager) chatText(ctx context.Context, name string, rec events.Recorded) (string, bool, error) {
	switch name {
	case events.ExperimentConcluded:
		return m.concludedText(ctx, rec)
	case events.InnovationLinked:
		return m.fedText(ctx, rec)
	}
	return "", false, nil
}

// concludedText announces a conclusion: outcome, decision and the first
// learning, with a link to the experiment's page.
func (m *Manager) concludedText(ctx context.Context, rec events.Recorded) (string, bool, error) {
	x, err := experimentAt(ctx, m.cfg.Store, rec.Subject, rec.Sequence)
	if err != nil {
		return "", false, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Experiment concluded: *%s* (team %s): %s; decision: %s.", esc(x.Title), esc(x.Team), x.Outcome, x.Decision)
	if len(x.Learnings) > 0 {
		fmt.Fprintf(&b, "\nFirst learning: %s", esc(x.Learnings[0].Text))
	}
	m.writeLink(&b, x.ID)
	return b.String(), true, nil
}

// fedText announces that a failure fed an innovation; a link to an
// experiment that did not fail is no such news, and is not sent.
func (m *Manager) fedText(ctx context.Context, rec events.Recorded) (string, bool, error) {
	_, payload, err := events.Payload(&rec.Envelope)
	if err != nil {
		return "", false, err
	}
	link, ok := payload.(*events.InnovationLinkedV1)
	if !ok {
		return "", false, nil
	}
	x, err := experimentAt(ctx, m.cfg.Store, link.ExperimentID, rec.Sequence)
	if err != nil || x.Outcome != experiments.OutcomeFailed {
		return "", false, err
	}
	var inn experiments.Innovation
	if err := foldAt(ctx, m.cfg.Store, events.AggregateInnovation, rec.Subject, rec.Sequence, inn.Apply); err != nil {
		return "", false, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "A failure fed an innovation: the failed experiment *%s* (team %s) informed *%s* (team %s)",
		esc(x.Title), esc(x.Team), esc(inn.Title), esc(inn.Team))
	if m.cfg.Steps != nil {
		n, err := m.cfg.Steps(ctx, x.ID, inn.ID)
		if err != nil {
			return "", false, fmt.Errorf("lineage steps from %s to %s: %w", x.ID, inn.ID, err)
		}
		fmt.Fprintf(&b, ", %d %s on", n, plural(n, "step", "steps"))
	}
	b.WriteString(".")
	m.writeLink(&b, x.ID)
	return b.String(), true, nil
}

func (m *Manager) writeLink(b *strings.Builder, experimentID string) {
	if m.cfg.BaseURL != "" {
		fmt.Fprintf(b, "\n%s/experiments/%s", m.cfg.BaseURL, experimentID)
	}
}

// chatBody is the message a chat incoming webhook takes.
func chatBody(text string) ([]byte, error) {
	return json.Marshal(struct {
		Text string `json:"text"`
	}{text})
}

// esc escapes the three characters chat markup gives a meaning to, so
// that a title cannot forge a link or a mention.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// experimentAt returns the experiment as it was at stream position seq,
// with the learnings that were written in the same atomic write as the
// event at seq (a conclusion's learnings follow it).
func experimentAt(ctx context.Context, store *events.Store, id string, seq uint64) (experiments.Experiment, error) {
	var x experiments.Experiment
	err := foldAt(ctx, store, events.AggregateExperiment, id, seq, x.Apply)
	return x, err
}

// foldAt folds the events of an aggregate up to stream position seq, and
// the learnings that follow it contiguously, into apply.
func foldAt(ctx context.Context, store *events.Store, aggregate, id string, seq uint64, apply func(*events.Recorded, any) error) error {
	if !experiments.ValidID(id) {
		return fmt.Errorf("%s %q: %w", aggregate, id, events.ErrMalformed)
	}
	recs, err := store.Load(ctx, aggregate, id)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("%s %s: %w", aggregate, id, events.ErrNotFound)
	}
	last := uint64(0)
	for i := range recs {
		r := &recs[i]
		name, payload, err := events.Payload(&r.Envelope)
		if err != nil {
			return err
		}
		if r.Sequence > seq && (name != events.ExperimentLearningRecorded || r.Sequence != last+1) {
			break
		}
		if err := apply(r, payload); err != nil {
			return err
		}
		last = r.Sequence
	}
	return nil
}

// StreamVisibility returns a VisibleFunc that decides from the stream
// itself: an experiment's events, and an innovation's links to it, are
// visible to whoever may see the experiment as it is now (team-visible
// experiments only to their team, leads and admins). It reads the
// experiment's history for each event; a read model answers faster.
// Events of aggregates it does not know are not visible.
func StreamVisibility(store *events.Store) VisibleFunc {
	return func(ctx context.Context, owner *experiments.Principal, ev events.Recorded) (bool, error) {
		if owner.SeesEverything() {
			return true, nil
		}
		name, payload, err := events.Payload(&ev.Envelope)
		if err != nil {
			return false, nil // an event nobody can read is nobody's to see
		}
		var experimentID string
		switch p := payload.(type) {
		case *events.InnovationRecordedV1:
			return true, nil
		case *events.InnovationLinkedV1:
			experimentID = p.ExperimentID
		case *events.InnovationUnlinkedV1:
			experimentID = p.ExperimentID
		default:
			if !strings.HasPrefix(name, events.AggregateExperiment+".") {
				return false, nil
			}
			experimentID = ev.Subject
		}
		x, err := experimentAt(ctx, store, experimentID, math.MaxUint64)
		if err != nil {
			return false, err
		}
		return owner.CanSee(x.Team, x.Visibility), nil
	}
}
