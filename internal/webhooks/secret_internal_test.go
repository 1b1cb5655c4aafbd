package webhooks

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestSignatureMatchesTheSpecificationsExample signs the example the
// Standard Webhooks specification publishes and compares with its
// signature.
func TestSignatureMatchesTheSpecificationsExample(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		body   = `{"test": 2432232314}`
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := newSigner(key).sign(h, id, time.Unix(1614265330, 0), []byte(body)); err != nil {
		t.Fatal(err)
	}
	if got := h.Get(HeaderSignature); got != want {
		t.Errorf("signature %q, want the specification's %q", got, want)
	}
	if got := h.Get(HeaderTimestamp); got != "1614265330" {
		t.Errorf("timestamp %q", got)
	}
	if got := h.Get(HeaderID); got != id {
		t.Errorf("id %q", got)
	}
	if formatSecret(key) != secret {
		t.Errorf("formatSecret = %q, want %q", formatSecret(key), secret)
	}
}

func TestDerivedSecrets(t *testing.T) {
	server := bytes.Repeat([]byte{7}, MinServerKey)
	a1 := deriveKey(server, "01JABCDEFGHJKMNPQRSTVWXYZ0", 1)
	if !bytes.Equal(a1, deriveKey(server, "01JABCDEFGHJKMNPQRSTVWXYZ0", 1)) {
		t.Error("the same subscription and rotation derive different secrets")
	}
	for name, other := range map[string][]byte{
		"rotation":   deriveKey(server, "01JABCDEFGHJKMNPQRSTVWXYZ0", 2),
		"id":         deriveKey(server, "01JABCDEFGHJKMNPQRSTVWXYZ1", 1),
		"server key": deriveKey(bytes.Repeat([]byte{8}, MinServerKey), "01JABCDEFGHJKMNPQRSTVWXYZ0", 1),
	} {
		if bytes.Equal(a1, other) {
			t.Errorf("another %s derives the same secret", name)
		}
	}
	// What a receiver does with the secret it was shown: the library's
	// verification accepts a fresh delivery.
	h := http.Header{}
	body := []byte(`{"id":"x"}`)
	if err := newSigner(a1).sign(h, "01JABCDEFGHJKMNPQRSTVWXYZ9", time.Now(), body); err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(formatSecret(a1))
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Errorf("a receiver cannot verify a delivery with the shown secret: %v", err)
	}
}
