package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// SecretPrefix starts every signing secret, as the Standard Webhooks
// specification writes them.
const SecretPrefix = "whsec_"

// MinServerKey is the shortest server key accepted: the key is what keeps
// every subscription's secret unguessable.
const MinServerKey = 32

// Standard Webhooks headers.
const (
	HeaderID        = standardwebhooks.HeaderWebhookID
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

// deriveKey returns the raw signing key of a subscription's rotation:
// HMAC-SHA256 under the server key of a label, the id and the rotation
// number. Deriving it rather than storing it keeps the secret out of the
// stream, and a rebuild of every subscription from the stream gets the
// same secrets back.
func deriveKey(serverKey []byte, id string, rotation int) []byte {
	mac := hmac.New(sha256.New, serverKey)
	mac.Write([]byte("failforward webhook signing secret\x00"))
	mac.Write([]byte(id))
	mac.Write([]byte{0})
	mac.Write([]byte(strconv.Itoa(rotation)))
	return mac.Sum(nil)
}

// formatSecret writes a raw key as a receiver configures it.
func formatSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// signer signs deliveries with one subscription's key.
type signer struct {
	wh *standardwebhooks.Webhook
}

func newSigner(key []byte) signer {
	// NewWebhookRaw cannot fail: it only keeps the key.
	wh, _ := standardwebhooks.NewWebhookRaw(key)
	return signer{wh: wh}
}

// sign sets the Standard Webhooks headers on h for a delivery of body.
// The event id is the webhook-id, so that a receiver drops a repeat of
// the same event, whichever attempt or replay it comes from.
func (s signer) sign(h http.Header, eventID string, at time.Time, body []byte) error {
	sig, err := s.wh.Sign(eventID, at, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, eventID)
	h.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}
