// Package events holds failforward's event contract and its system of
// record: the CloudEvents envelope, the catalogue of event types with
// their versioned payloads, and the JetStream event store.
package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// SpecVersion is the CloudEvents version every envelope declares.
const SpecVersion = "1.0"

// ContentType is the structured-mode CloudEvents media type, carried in the
// NATS Content-Type header as the CloudEvents NATS binding prescribes.
const ContentType = "application/cloudevents+json"

// Source is the CloudEvents source of every event failforward writes.
const Source = "/failforward"

// Headers copied from the envelope onto each NATS message, so that a
// consumer can route or filter without parsing the body.
const (
	HeaderContentType   = "Content-Type"
	HeaderType          = "Ce-Type"
	HeaderID            = "Ce-Id"
	HeaderSubject       = "Ce-Subject"
	HeaderTime          = "Ce-Time"
	HeaderTeam          = "Ce-Team"
	HeaderActor         = "Ce-Actor"
	HeaderCorrelationID = "Ce-Correlationid"
	HeaderCausationID   = "Ce-Causationid"
	HeaderTraceParent   = "Ce-Traceparent"
	HeaderTraceState    = "Ce-Tracestate"
)

// Envelope is one event in CloudEvents 1.0 structured JSON form. The
// extension attributes team, actor, correlationid and causationid are
// failforward's own; idempotencykey is set when the command that caused
// the event carried an Idempotency-Key. traceparent and tracestate are
// the CloudEvents distributed-tracing extension: the W3C trace context of
// the append that wrote the event, so that its consumers' spans join the
// trace of the request that caused it.
type Envelope struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema,omitempty"`
	Team            string          `json:"team"`
	Actor           string          `json:"actor"`
	CorrelationID   string          `json:"correlationid,omitempty"`
	CausationID     string          `json:"causationid,omitempty"`
	IdempotencyKey  string          `json:"idempotencykey,omitempty"`
	TraceParent     string          `json:"traceparent,omitempty"`
	TraceState      string          `json:"tracestate,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// Recorded is an envelope as the stream holds it: with the NATS subject it
// was written to and its stream sequence, which is its global position.
type Recorded struct {
	Envelope
	StreamSubject string
	Sequence      uint64
}

// ErrMalformed reports an event that cannot be decoded into an envelope.
var ErrMalformed = errors.New("malformed event")

// Validate reports every required CloudEvents attribute that is missing or
// bad, in one error wrapping ErrMalformed.
func (e *Envelope) Validate() error {
	var missing []string
	if e.SpecVersion != SpecVersion {
		missing = append(missing, "specversion")
	}
	// A slice, not a map, so that the message lists attributes in a stable
	// order.
	for _, a := range [...]struct{ name, v string }{{"id", e.ID}, {"source", e.Source}, {"type", e.Type}, {"subject", e.Subject}} {
		if a.v == "" {
			missing = append(missing, a.name)
		}
	}
	if e.Time.IsZero() {
		missing = append(missing, "time")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing or bad %s", ErrMalformed, strings.Join(missing, ", "))
	}
	return nil
}

// EncodeMsg renders the envelope as a NATS message on subject: the JSON
// body in structured mode, and the routing attributes as headers.
func (e *Envelope) EncodeMsg(subject string) (*nats.Msg, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	m := nats.NewMsg(subject)
	m.Data = body
	m.Header.Set(HeaderContentType, ContentType)
	m.Header.Set(HeaderType, e.Type)
	m.Header.Set(HeaderID, e.ID)
	m.Header.Set(HeaderSubject, e.Subject)
	m.Header.Set(HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	m.Header.Set(HeaderTeam, e.Team)
	m.Header.Set(HeaderActor, e.Actor)
	if e.CorrelationID != "" {
		m.Header.Set(HeaderCorrelationID, e.CorrelationID)
	}
	if e.CausationID != "" {
		m.Header.Set(HeaderCausationID, e.CausationID)
	}
	if e.TraceParent != "" {
		m.Header.Set(HeaderTraceParent, e.TraceParent)
	}
	if e.TraceState != "" {
		m.Header.Set(HeaderTraceState, e.TraceState)
	}
	return m, nil
}

// Decode parses a structured-mode body into an envelope and validates it.
func Decode(body []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := e.Validate(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}
