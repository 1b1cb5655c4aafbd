package projector

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the projector's own Prometheus series; the Watermill
// router adds its handler timings beside them.
type metrics struct {
	position       prometheus.Gauge
	streamLast     prometheus.Gauge
	lag            prometheus.Gauge
	applied        prometheus.Counter
	batchSize      prometheus.Histogram
	batchDuration  prometheus.Histogram
	batchFailures  prometheus.Counter
	skipped        prometheus.Counter
	deadLetters    prometheus.Counter
	deadLetterErrs prometheus.Counter
	redelivered    prometheus.Counter
	role           *prometheus.GaugeVec
	leaseEpoch     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		position: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "projector_position",
			Help: "Stream sequence of the last event applied to the read models.",
		}),
		streamLast: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "projector_stream_last_sequence",
			Help: "Last sequence of the event stream, as last seen by the projector.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "projector_lag_events",
			Help: "Events in the stream not yet applied to the read models.",
		}),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "projector_events_applied_total",
			Help: "Events committed to the read models, skipped ones included.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "projector_batch_size",
			Help:    "Events per committed batch.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500},
		}),
		batchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "projector_batch_duration_seconds",
			Help:    "Time to apply and commit one batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}),
		batchFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "projector_batch_failures_total",
			Help: "Batches rolled back; the projector resumes from its checkpoint after each.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "projector_skipped_total",
			Help: "Events that could not be decoded or applied, recorded in projector_skipped.",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "projector_dead_letters_total",
			Help: "Skipped events published to the dead-letter subject.",
		}),
		deadLetterErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "projector_dead_letter_errors_total",
			Help: "Dead letters that could not be published (the skip is still recorded in the read store).",
		}),
		redelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "projector_redelivered_total",
			Help: "Events received again at or below the checkpoint, and ignored.",
		}),
		role: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "projector_role",
			Help: "1 for the role this projector holds: active (holds the read store's lease and applies events) or standby.",
		}, []string{"role"}),
		leaseEpoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "projector_lease_epoch",
			Help: "Epoch of the lease this projector holds or, as a standby, last saw held; it rises with every takeover.",
		}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.position, m.streamLast, m.lag, m.applied, m.batchSize,
		m.batchDuration, m.batchFailures, m.skipped, m.deadLetters, m.deadLetterErrs, m.redelivered, m.role, m.leaseEpoch} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register projector metrics: %w", err)
	}
	return m, nil
}

// subjectMatches reports whether the NATS subject filter matches subject,
// with * standing for one token and a final > for one or more.
func subjectMatches(filter, subject string) bool {
	f := strings.Split(filter, ".")
	s := strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}
