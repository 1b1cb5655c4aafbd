// Command failure-notifier is an example downstream service of failforward:
// it reads the event stream and prints a line whenever a failed experiment
// feeds an innovation, so that the team whose experiment failed hears
// that its failure was worth something.
//
// An experiment has fed an innovation when the innovation is linked to it
// (innovation.linked) while its outcome is failed, or when the outcome of
// an experiment that is already linked is revised to failed. The notifier
// learns outcomes, titles and links from the stream itself
// (experiment.registered, concluded, outcome_revised; innovation.recorded,
// linked, unlinked) and keeps them in memory.
//
// Because that state lives in memory, by default the notifier reads the
// whole history again at each start through an ephemeral consumer, and
// prints only what happens from its start on (-since now). A notifier
// that must survive restarts without replaying keeps its state in a
// database, updated in the handler, and passes -durable: the durable
// consumer then resumes after the last event it acknowledged.
//
// Usage:
//
//	go run ./examples/failure-notifier -nats-url nats://127.0.0.1:4222 [-since now|all|2026-03-01T00:00:00Z] [-durable name]
//
// In the production topology connect as the downstream user, for instance
// -nats-url nats://downstream:$DOWNSTREAM_NATS_PASSWORD@nats:4222, and
// create the mirror first (see deploy/downstream-mirror.json).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/failforward/failforward/internal/events"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "failure-notifier:", err)
		os.Exit(1)
	}
}

// run reads the stream until ctx ends, printing notifications to stdout.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("failure-notifier", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultURL := getenv("NATS_URL")
	if defaultURL == "" {
		defaultURL = nats.DefaultURL
	}
	natsURL := fs.String("nats-url", defaultURL, "NATS server to read from (env NATS_URL)")
	durable := fs.String("durable", "", "durable consumer name; empty reads the whole history at each start")
	sinceFlag := fs.String("since", "now", `notify about events written from this time on: "now", "all" or an RFC 3339 time`)
	stream := fs.String("stream", events.DefaultStream, "stream to read")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var since time.Time
	switch *sinceFlag {
	case "now":
		since = time.Now()
	case "all":
	default:
		t, err := time.Parse(time.RFC3339, *sinceFlag)
		if err != nil {
			return fmt.Errorf("-since %q: want now, all or an RFC 3339 time", *sinceFlag)
		}
		since = t
	}

	nc, err := nats.Connect(*natsURL, nats.Name("failure-notifier"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *natsURL, err)
	}
	defer nc.Close()

	n := newNotifier(stdout, since)
	var subjects []string
	for _, name := range []string{
		events.ExperimentRegistered, events.ExperimentConcluded, events.ExperimentOutcomeRevised,
		events.InnovationRecorded, events.InnovationLinked, events.InnovationUnlinked,
	} {
		subjects = append(subjects, events.Subject(name, "*"))
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	return events.Subscribe(ctx, nc, *durable, n.handle, events.SubscribeOptions{
		Stream: *stream, Subjects: subjects, Logger: log,
	})
}

// notifier folds the events it needs and prints a notification when a
// failure feeds an innovation.
type notifier struct {
	out         io.Writer
	since       time.Time
	experiments map[string]*experiment
	innovations map[string]*innovation
}

type experiment struct {
	title, team, outcome string
	// linkedBy are the innovations linked to the experiment now.
	linkedBy []string
}

type innovation struct {
	title, team string
}

func newNotifier(out io.Writer, since time.Time) *notifier {
	return &notifier{out: out, since: since, experiments: map[string]*experiment{}, innovations: map[string]*innovation{}}
}

// handle is the events.Handler. An event about something it has not seen
// (written before a -durable consumer started) is noted with what it
// carries. It fails only on an event version newer than this program
// knows: that event is then delivered again, with backoff and before any
// later one, until the notifier is upgraded.
func (n *notifier) handle(_ context.Context, d events.Delivery) error {
	name, p, err := events.Payload(&d.Envelope)
	if err != nil {
		// A version newer than this program: say so rather than guess.
		return fmt.Errorf("event %d: %w", d.Sequence, err)
	}
	switch p := p.(type) {
	case *events.ExperimentRegisteredV1:
		n.experiments[d.Subject] = &experiment{title: p.Title, team: p.Team}
	case *events.ExperimentConcludedV1:
		n.experiment(d).outcome = p.Outcome
	case *events.ExperimentOutcomeRevisedV1:
		e := n.experiment(d)
		wasFailed := e.outcome == "failed"
		e.outcome = p.Outcome
		if !wasFailed && e.outcome == "failed" {
			for _, inn := range e.linkedBy {
				n.notify(d, d.Subject, inn)
			}
		}
	case *events.InnovationRecordedV1:
		n.innovations[d.Subject] = &innovation{title: p.Title, team: p.Team}
	case *events.InnovationLinkedV1:
		e := n.experimentByID(p.ExperimentID)
		if !slices.Contains(e.linkedBy, d.Subject) {
			e.linkedBy = append(e.linkedBy, d.Subject)
		}
		if e.outcome == "failed" {
			n.notify(d, p.ExperimentID, d.Subject)
		}
	case *events.InnovationUnlinkedV1:
		e := n.experimentByID(p.ExperimentID)
		e.linkedBy = slices.DeleteFunc(e.linkedBy, func(id string) bool { return id == d.Subject })
	default:
		return errors.New("unexpected event " + name)
	}
	return nil
}

func (n *notifier) experiment(d events.Delivery) *experiment {
	e := n.experimentByID(d.Subject)
	if e.team == "" {
		e.team = d.Team
	}
	return e
}

func (n *notifier) experimentByID(id string) *experiment {
	e, ok := n.experiments[id]
	if !ok {
		e = &experiment{}
		n.experiments[id] = e
	}
	return e
}

// notify prints one line, unless the event that made it due is older
// than -since.
func (n *notifier) notify(d events.Delivery, experimentID, innovationID string) {
	if d.Time.Before(n.since) {
		return
	}
	e := n.experiments[experimentID]
	inn, ok := n.innovations[innovationID]
	if !ok {
		inn = &innovation{title: "(recorded before this notifier started)", team: "?"}
	}
	fmt.Fprintf(n.out, "%s team %s: failed experiment %s %q fed innovation %s %q of team %s\n",
		d.Time.UTC().Format(time.RFC3339), orUnknown(e.team), experimentID, e.title, innovationID, inn.title, inn.team)
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
