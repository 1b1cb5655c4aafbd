package events_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/failforward/failforward/internal/events"
)

// oldRegistration is experiment.registered.v1 data as an early writer
// produced it: before kinds and visibility were part of the payload.
const oldRegistration = `{"team":"growth","title":"Annual plan nudge","hypothesis":"a nudge lifts annual plans",` +
	`"success_metric":"annual share","success_criteria":"+2 points","owner":"ada","tags":["pricing"],"builds_on":[]}`

func TestPayloadReadsOlderShapes(t *testing.T) {
	env := events.Envelope{Type: events.TypeOf(events.ExperimentRegistered), Data: json.RawMessage(oldRegistration)}
	name, p, err := events.Payload(&env)
	if err != nil {
		t.Fatal(err)
	}
	got := p.(*events.ExperimentRegisteredV1)
	if name != events.ExperimentRegistered || got.Kind != "other" || got.Visibility != "org" || got.Title != "Annual plan nudge" {
		t.Errorf("Payload(old registration) = %s %+v, want kind other and visibility org", name, got)
	}
	// The old shape is still a valid v1 event: the contract describes every
	// v1 event ever written.
	v, err := events.NewStrictValidator()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate(wrap(t, events.ExperimentRegistered, []byte(oldRegistration))); err != nil {
		t.Errorf("old registration does not match the v1 schema: %v", err)
	}
	// Values that are set are never overwritten by defaults.
	env.Data = json.RawMessage(`{"team":"growth","title":"t","kind":"pilot","visibility":"team"}`)
	if _, p, err = events.Payload(&env); err != nil || p.(*events.ExperimentRegisteredV1).Kind != "pilot" || p.(*events.ExperimentRegisteredV1).Visibility != "team" {
		t.Errorf("Payload = %+v, %v; want the written kind and visibility", p, err)
	}
}

func TestPayloadRefusesVersionsItDoesNotKnow(t *testing.T) {
	for _, typ := range []string{"failforward.experiment.registered.v2", "failforward.experiment.exploded.v1"} {
		env := events.Envelope{Type: typ, Data: json.RawMessage(`{}`)}
		if _, _, err := events.Payload(&env); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("Payload(%s) = %v, want ErrMalformed", typ, err)
		}
	}
}
