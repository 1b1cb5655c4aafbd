package webhooks

import (
	"context"

	"github.com/failforward/failforward/internal/experiments"
)

// PatchInput is one request that changes a subscription's fields, its
// secret, and whether it is paused, as PATCH /v1/webhooks/{id} and the
// web pages send it.
type PatchInput struct {
	ChangeInput
	// Paused pauses (true) or resumes (false) deliveries; nil leaves them.
	Paused *bool `json:"paused,omitempty"`
	// Reason says why the subscription is paused; with Paused true only.
	Reason string `json:"reason,omitempty"`
}

// Patch applies in: the change first, then the pause or resume, so that
// a subscription paused with a new target resumes to that target. A
// change that fails appends nothing; a pause that fails after a change
// leaves the change, which the answer's error says nothing of but a Get
// shows.
func (m *Manager) Patch(ctx context.Context, meta experiments.Meta, id string, in PatchInput) (Result, error) {
	if in.Reason != "" && (in.Paused == nil || !*in.Paused) {
		return Result{}, experiments.Invalid("reason", "is for pausing: send it with \"paused\": true")
	}
	if len(in.Reason) > maxReason {
		return Result{}, experiments.Invalid("reason", "is longer than %d characters", maxReason)
	}
	res, err := m.Change(ctx, meta, id, in.ChangeInput)
	if err != nil || in.Paused == nil {
		return res, err
	}
	// The change's idempotency key names the change; the pause is a second
	// event, which must not be dropped as a repeat of it.
	meta.IdempotencyKey = ""
	var sub Subscription
	if *in.Paused {
		sub, err = m.Pause(ctx, meta, id, in.Reason)
	} else {
		sub, err = m.Resume(ctx, meta, id)
	}
	if err != nil {
		return Result{}, err
	}
	res.Subscription = sub
	return res, nil
}

// Attempts returns the latest delivery attempts of a subscription that p
// may see, newest first, at most limit of them.
func (m *Manager) Attempts(ctx context.Context, p *experiments.Principal, id string, limit int) ([]Attempt, error) {
	if _, err := m.Get(ctx, p, id); err != nil {
		return nil, err
	}
	return m.Deliveries(ctx, id, limit)
}
