package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserWebhook creates a webhook through the menu and the form:
// the page that answers shows the secret once, and the list shows the
// subscription as active.
func TestBrowserWebhook(t *testing.T) {
	ctx := browser(t)
	a := startEmbedded(t)
	do(t, ctx, "open the webhook form from the menu",
		chromedp.Navigate(a.base+"/"),
		chromedp.Click(css(`nav.main a[href="/webhooks"]`)),
		chromedp.WaitVisible(css(`a[href="/webhooks/new"]`)),
		chromedp.Click(css(`a[href="/webhooks/new"]`)),
		chromedp.WaitVisible(css(`#target_url`)),
	)
	do(t, ctx, "create a webhook",
		chromedp.SendKeys(css(`#target_url`), "https://chat.example.com/hooks/growth"),
		chromedp.SendKeys(css(`#team`), "growth"),
		chromedp.Click(css(`#events-experiment\.concluded`)),
		chromedp.Click(css(`#events-innovation\.linked`)),
		chromedp.Click(css(`#format-chat`)),
		chromedp.Click(css(`form.command button[type=submit]`)),
		chromedp.WaitVisible(css(`#secret-value`)),
	)
	if secret := get(t, ctx, "read the secret", chromedp.Text(css(`#secret-value`))); !strings.HasPrefix(secret, "whsec_") {
		t.Errorf("the page shows the secret %q, want whsec_…", secret)
	}
	saveScreenshot(t, "webhooks.png", get(t, ctx, "screenshot the new webhook", chromedp.FullScreenshot(100)))
	// The list is what the engine has folded from the stream, which may
	// lag a moment behind the create: reload until it shows.
	deadline := time.Now().Add(10 * time.Second)
	for {
		do(t, ctx, "open the list", chromedp.Navigate(a.base+"/webhooks"), chromedp.WaitVisible(css(`h1`)))
		if get(t, ctx, "look for the webhook", chromedp.Evaluate[bool](`document.querySelector('tr[data-webhook-id] .badge.running') !== null`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the list never showed the new webhook as active")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
