package events

import (
	"bytes"
	"errors"
	"testing"
)

// TestUpcastChain checks the plumbing Payload relies on with a made-up
// history of three shapes, without touching the real upcasters.
func TestUpcastChain(t *testing.T) {
	ups := map[upcastKey]upcaster{
		{"thing.done", 1}: func(b []byte) ([]byte, error) { return bytes.ReplaceAll(b, []byte(`"who"`), []byte(`"actor"`)), nil },
		{"thing.done", 2}: func(b []byte) ([]byte, error) {
			return append(bytes.TrimSuffix(b, []byte("}")), []byte(`,"v":3}`)...), nil
		},
		{"thing.bad", 1}: func([]byte) ([]byte, error) { return nil, errors.New("no") },
	}
	tests := []struct {
		name            string
		version, target int
		in, want        string
		wantErr         bool
	}{
		{"thing.done", 1, 3, `{"who":"ada"}`, `{"actor":"ada","v":3}`, false},
		{"thing.done", 2, 3, `{"actor":"ada"}`, `{"actor":"ada","v":3}`, false},
		{"thing.done", 3, 3, `{"actor":"ada"}`, `{"actor":"ada"}`, false},
		{"thing.done", 4, 3, `{"x":1}`, `{"x":1}`, false},
		{"thing.missing", 1, 2, `{}`, "", true},
		{"thing.bad", 1, 2, `{}`, "", true},
	}
	for _, tt := range tests {
		got, err := upcast(ups, tt.name, tt.version, tt.target, []byte(tt.in))
		if tt.wantErr {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("upcast(%s v%d) = %s, %v; want ErrMalformed", tt.name, tt.version, got, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("upcast(%s v%d) = %s, %v; want %s", tt.name, tt.version, got, err, tt.want)
		}
	}
}

// Every version below a name's current one must have its upcaster, or old
// events of that name could not be read.
func TestEveryOldVersionHasAnUpcaster(t *testing.T) {
	for _, name := range Names {
		for v := 1; v < VersionOf(name); v++ {
			if _, ok := upcasters[upcastKey{name, v}]; !ok {
				t.Errorf("no upcaster from %s v%d", name, v)
			}
		}
		if _, ok := newPayload(name, VersionOf(name)); !ok {
			t.Errorf("no payload type for %s v%d", name, VersionOf(name))
		}
	}
}
