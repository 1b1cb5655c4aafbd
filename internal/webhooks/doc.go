// Package webhooks delivers failforward's events to HTTP receivers: chat
// channels, ticketing, automation, pipelines behind firewalls.
//
// # Subscriptions
//
// A subscription is an aggregate of its own in the event stream, on the
// subjects tracker.webhook.<id>.<event>: webhook.created, .changed,
// .paused, .resumed and .deleted. The Manager's commands (Create, Change,
// Pause, Resume, Delete, Replay) validate their input, answering bad
// input with an *experiments.Error of CodeInvalid that names the field,
// and append through the event store with the subscription's expected
// sequence, as the experiments service does. Get reads a subscription
// from the stream; List reads what Run has folded.
//
// Who may do what: the owner, members of the subscription's team and
// admins see and manage a subscription (leads see every experiment, not
// every subscription, because a target URL can be a credential); viewers
// only read; only admins may allow a plain http target, and only admins
// may replay. Patch is Change with a pause or resume in the same request,
// and Attempts is Deliveries for a principal, as the HTTP API and the web
// pages serve them.
//
// # Secrets
//
// A subscription's signing secret is HMAC-SHA256 under the server key
// (Config.ServerKey) of its id and rotation number. No event carries it:
// Create, and a Change that rotates it, return it once, as whsec_ and
// base64, the form the Standard Webhooks specification uses; every
// delivery derives it again.
//
// # Deliveries
//
// Run folds every subscription from the stream and keeps one worker per
// active subscription. Each worker reads the stream through its own
// durable consumer (webhook_<id>, filtered to the subscription's event
// types, one event in flight), so deliveries are in stream order, a slow
// receiver delays only its own subscription, and a restart resumes after
// the last event acknowledged. A consumer starts after webhook.created; a
// replay recreates it at a position or a time, once (the consumer's
// metadata records which replay it reflects).
//
// Each delivery is a POST of the CloudEvent as the stream holds it
// (format cloudevents), or of {"text": ...} for a chat incoming webhook
// (format chat: an experiment concluded; a failed experiment fed an
// innovation), with the Standard Webhooks headers webhook-id (the event's
// id, the same for every attempt and replay, so receivers drop repeats),
// webhook-timestamp and webhook-signature. Timeouts, connection errors,
// 5xx and 429 are retried with exponential backoff and jitter, honouring
// Retry-After; other answers are final (a redirect is not followed). When
// attempts keep failing for Config.PauseAfter (a day by default), the
// engine pauses the subscription with a webhook.paused event that says
// why; resuming delivers from the event that failed.
//
// An event reaches a subscription only when the subscription's owner may
// see it (Config.Visible decides; StreamVisibility is one that reads the
// stream) and, when the subscription names teams, when it is of one of
// them.
//
// Every attempt (time, event id, position, status code, latency, error)
// is recorded in the stream WEBHOOK_DELIVERIES, kept for
// Config.DeliveriesMaxAge; Deliveries lists a subscription's latest.
//
// # Target safety
//
// Targets must be https unless the subscription allows plain http. The
// delivery client checks the address it actually dials, after name
// resolution, and refuses loopback, private, link-local, unspecified and
// other non-public addresses unless Config.AllowPrivateTargets is set, so
// that a name resolving elsewhere later (DNS rebinding) cannot reach
// inside the network. It uses no proxy, follows no redirect, reads at
// most Config.MaxResponseBytes of an answer, and bounds every attempt by
// Config.AttemptTimeout.
package webhooks
