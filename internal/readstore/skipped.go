package readstore

import (
	"context"
	"fmt"
)

// Skipped is an event the projector could not apply, with the reason. It
// is recorded in projector_skipped in the same transaction as the batch
// it belonged to, so that a skip is never silent.
type Skipped struct {
	Position  uint64 `db:"position" json:"position"`
	EventID   string `db:"event_id" json:"event_id"`
	EventType string `db:"event_type" json:"event_type"`
	Reason    string `db:"reason" json:"reason"`
}

// RecordSkipped writes skipped events inside tx. Recording the same
// position twice keeps the first reason.
func RecordSkipped(ctx context.Context, tx *Tx, skipped []Skipped) error {
	for _, s := range skipped {
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO projector_skipped (position, event_id, event_type, reason)
			VALUES (?, ?, ?, ?) ON CONFLICT (position) DO NOTHING`), s.Position, s.EventID, s.EventType, s.Reason); err != nil {
			return fmt.Errorf("record skipped event %d: %w", s.Position, err)
		}
	}
	return nil
}

// ListSkipped returns every skipped event in stream order.
func (db *DB) ListSkipped(ctx context.Context) ([]Skipped, error) {
	var out []Skipped
	if err := db.x.SelectContext(ctx, &out, "SELECT position, event_id, event_type, reason FROM projector_skipped ORDER BY position"); err != nil {
		return nil, fmt.Errorf("list skipped events: %w", err)
	}
	return out, nil
}
