package events_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
)

func TestFollow(t *testing.T) {
	tr := newTracker(t)
	tr.write(t, 5)
	// A message the store did not write: Follow passes it on with an
	// error instead of stopping or hiding it.
	if _, err := tr.store.JetStream().Publish(context.Background(), "tracker.experiment.01JABCDEFGHJKMNPQRSTVWXYZ0.started", []byte(`not json`)); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		seqs []uint64
		bad  []uint64
	)
	errEnough := errors.New("enough")
	wrote := false
	err := tr.store.Follow(ctx, 2, nil, func(rec events.Recorded, err error) error {
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) || rec.Sequence == 0 || rec.StreamSubject == "" {
				t.Errorf("undecodable event passed as %+v, %v", rec, err)
			}
			bad = append(bad, rec.Sequence)
			// Follow keeps waiting at the end of the stream: these are
			// written after it has caught up.
			if !wrote {
				wrote = true
				tr.write(t, 2)
			}
			return nil
		}
		if rec.Type == "" || rec.Subject == "" {
			t.Errorf("event %d came without its envelope", rec.Sequence)
		}
		seqs = append(seqs, rec.Sequence)
		if rec.Sequence == 8 {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) {
		t.Fatalf("Follow = %v, want fn's error", err)
	}
	if !slices.Equal(seqs, []uint64{3, 4, 5, 7, 8}) || !slices.Equal(bad, []uint64{6}) {
		t.Errorf("Follow after 2 gave %v and undecodable %v, want [3 4 5 7 8] and [6]", seqs, bad)
	}

	t.Run("filtered, stopped by its context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var got []uint64
		err := tr.store.Follow(ctx, 0, []string{events.Subject(events.ExperimentRegistered, "*")}, func(rec events.Recorded, err error) error {
			got = append(got, rec.Sequence)
			cancel()
			return nil
		})
		if err != nil || !slices.Equal(got, []uint64{1}) {
			t.Errorf("Follow on registrations = %v, %v; want [1], nil", got, err)
		}
	})
}
