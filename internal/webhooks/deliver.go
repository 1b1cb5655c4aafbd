package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/failforward/failforward/internal/events"
)

// userAgent names the sender to receivers.
const userAgent = "failforward-webhooks/1"

// request is one event rendered for one subscription.
type request struct {
	rec         events.Recorded
	name        string
	body        []byte
	contentType string
}

// render decides whether rec goes to the worker's subscription, and
// renders it in the subscription's format. It returns false for an event
// the subscription does not get: another team's, one its owner may not
// see, or one the chat format has no notification for.
func (w *worker) render(ctx context.Context, rec events.Recorded, raw []byte) (request, bool, error) {
	name, _, err := events.ParseType(rec.Type)
	if err != nil || !slices.Contains(w.sub.Events, name) {
		return request{}, false, nil // not an event the subscription asked for
	}
	if len(w.sub.Teams) > 0 && !slices.Contains(w.sub.Teams, rec.Team) {
		return request{}, false, nil
	}
	visible, err := w.m.cfg.Visible(ctx, w.sub.owner(), rec)
	if err != nil || !visible {
		return request{}, false, err
	}
	req := request{rec: rec, name: name, body: raw, contentType: events.ContentType}
	if w.sub.Format == FormatChat {
		text, ok, err := w.m.chatText(ctx, name, rec)
		if err != nil || !ok {
			return request{}, false, err
		}
		if req.body, err = chatBody(text); err != nil {
			return request{}, false, err
		}
		req.contentType = "application/json"
	}
	return req, true, nil
}

// post makes one attempt to deliver req. It returns the attempt's record
// and, for an answer that asked for it, how long to wait (Retry-After).
func (w *worker) post(ctx context.Context, req request, n int) (Attempt, time.Duration) {
	cfg := &w.m.cfg
	a := Attempt{
		SubscriptionID: w.sub.ID, EventID: req.rec.ID, EventType: req.name, Position: req.rec.Sequence,
		Attempt: n, Time: cfg.Now().UTC(), Outcome: OutcomeFailed,
	}
	ctx, span := startDelivery(ctx, req, w.sub.ID, n)
	defer func() { endDelivery(span, a) }()
	ctx, cancel := context.WithTimeout(ctx, cfg.AttemptTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, w.sub.TargetURL, bytes.NewReader(req.body))
	if err != nil {
		a.Error = err.Error()
		return a, 0
	}
	hreq.Header.Set("Content-Type", req.contentType)
	hreq.Header.Set("User-Agent", userAgent)
	traceRequest(ctx, hreq)
	if err := w.signer.sign(hreq.Header, req.rec.ID, a.Time, req.body); err != nil {
		a.Error = err.Error()
		return a, 0
	}
	start := time.Now()
	resp, err := w.m.client.Do(hreq)
	if err != nil {
		a.LatencyMS = ms(time.Since(start))
		a.Error = err.Error()
		return a, 0
	}
	// The answer is read, up to a limit, so that the connection can be
	// reused; what it says does not matter, only its status.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, cfg.MaxResponseBytes))
	resp.Body.Close()
	a.LatencyMS = ms(time.Since(start))
	a.StatusCode = resp.StatusCode
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		a.Outcome = OutcomeDelivered
	case code == http.StatusTooManyRequests || code >= 500:
		a.Error = "receiver answered " + resp.Status
		return a, retryAfter(resp.Header.Get("Retry-After"), a.Time)
	case code >= 300 && code < 400:
		a.Outcome = OutcomeRejected
		a.Error = fmt.Sprintf("receiver redirected to %q; redirects are not followed", resp.Header.Get("Location"))
	default:
		a.Outcome = OutcomeRejected
		a.Error = "receiver answered " + resp.Status
	}
	return a, 0
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff is the wait before attempt n+1: exponential from BackoffBase,
// capped at BackoffMax, with jitter so that receivers coming back from an
// outage are not hit by every subscription at once. A Retry-After the
// receiver sent wins, up to RetryAfterMax.
func (w *worker) backoff(n int, asked time.Duration) time.Duration {
	cfg := &w.m.cfg
	if asked > 0 {
		return min(asked, cfg.RetryAfterMax)
	}
	d := cfg.BackoffMax
	if n-1 < 30 {
		d = min(cfg.BackoffBase<<(n-1), cfg.BackoffMax)
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
