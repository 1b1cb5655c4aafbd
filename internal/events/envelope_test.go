package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/failforward/failforward/internal/events"
)

func TestDecodeMalformed(t *testing.T) {
	valid := registered("01J0000000000000000000000")
	body, err := json.Marshal(valid)
	if err != nil {
		t.Fatal(err)
	}
	without := func(attr string) string {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, attr)
		b, _ := json.Marshal(m)
		return string(b)
	}
	with := func(attr string, v any) string {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatal(err)
		}
		m[attr] = v
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name string
		body string
		want string // in the error message
	}{
		{"empty", "", ""},
		{"not JSON", "registered", ""},
		{"truncated", string(body[:len(body)/2]), ""},
		{"array", "[]", ""},
		{"null", "null", "specversion"},
		{"empty object", "{}", "specversion, id, source, type, subject, time"},
		{"no specversion", without("specversion"), "specversion"},
		{"old specversion", with("specversion", "0.3"), "specversion"},
		{"no id", without("id"), "id"},
		{"no source", without("source"), "source"},
		{"no type", without("type"), "type"},
		{"no subject", without("subject"), "subject"},
		{"no time", without("time"), "time"},
		{"bad time", with("time", "yesterday"), ""},
		{"number as id", with("id", 7), ""},
		{"data not JSON", strings.Replace(string(body), `"data":{`, `"data":{]`, 1), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := events.Decode([]byte(tt.body))
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("Decode(%q) = %+v, %v; want ErrMalformed", tt.body, got, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode error %q does not mention %q", err, tt.want)
			}
		})
	}

	got, err := events.Decode(body)
	if err != nil {
		t.Fatalf("Decode(valid): %v", err)
	}
	if !reflect.DeepEqual(got, valid) {
		t.Errorf("Decode(valid) = %+v, want %+v", got, valid)
	}
}

func TestEncodeMsg(t *testing.T) {
	env := registered("01J0000000000000000000000")
	env.CorrelationID, env.CausationID = "", ""
	m, err := env.EncodeMsg("tracker.experiment.01J0000000000000000000000.registered")
	if err != nil {
		t.Fatal(err)
	}
	// Optional attributes that are empty are left out, not sent empty.
	for _, h := range []string{events.HeaderCorrelationID, events.HeaderCausationID} {
		if _, ok := m.Header[h]; ok {
			t.Errorf("header %s set for an empty attribute", h)
		}
	}
	if got := m.Header.Get(events.HeaderContentType); got != events.ContentType {
		t.Errorf("Content-Type = %q, want %q", got, events.ContentType)
	}
	back, err := events.Decode(m.Data)
	if err != nil || !reflect.DeepEqual(back, env) {
		t.Errorf("Decode(EncodeMsg) = %+v, %v; want %+v", back, err, env)
	}
}

func TestParseType(t *testing.T) {
	tests := []struct {
		typ     string
		name    string
		version int
		ok      bool
	}{
		{"failforward.experiment.concluded.v1", "experiment.concluded", 1, true},
		{"failforward.experiment.outcome_revised.v1", "experiment.outcome_revised", 1, true},
		{"failforward.innovation.linked.v12", "innovation.linked", 12, true},
		{events.TypeOf(events.ExperimentLearningRecorded), events.ExperimentLearningRecorded, events.CurrentVersion, true},
		{"", "", 0, false},
		{"failforward.", "", 0, false},
		{"experiment.concluded.v1", "", 0, false},
		{"com.example.experiment.concluded.v1", "", 0, false},
		{"failforward.experiment.concluded", "", 0, false},
		{"failforward.experiment.concluded.v", "", 0, false},
		{"failforward.experiment.concluded.v0", "", 0, false},
		{"failforward.experiment.concluded.v-1", "", 0, false},
		{"failforward.experiment.concluded.v+1", "", 0, false},
		{"failforward.experiment.concluded.v01", "", 0, false},
		{"failforward.experiment.concluded.v1x", "", 0, false},
		{"failforward.experiment.concluded.v1.0", "", 0, false},
		{"failforward.experiment.concluded.vx", "", 0, false},
		{"failforward.experiment.concluded.v99999999999999999999", "", 0, false},
		{"failforward..v1", "", 0, false},
		{"failforward.v1", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			name, version, err := events.ParseType(tt.typ)
			if !tt.ok {
				if !errors.Is(err, events.ErrMalformed) {
					t.Errorf("ParseType(%q) = %q, %d, %v; want ErrMalformed", tt.typ, name, version, err)
				}
				return
			}
			if err != nil || name != tt.name || version != tt.version {
				t.Errorf("ParseType(%q) = %q, %d, %v; want %q, %d", tt.typ, name, version, err, tt.name, tt.version)
			}
		})
	}
}

func TestCatalogueTypesRoundTrip(t *testing.T) {
	for _, name := range events.Names {
		got, version, err := events.ParseType(events.TypeOf(name))
		if err != nil || got != name || version != events.CurrentVersion {
			t.Errorf("ParseType(TypeOf(%q)) = %q, %d, %v", name, got, version, err)
		}
	}
}
