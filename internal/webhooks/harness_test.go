package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/events"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/natsembed/natsembedtest"
	"github.com/failforward/failforward/internal/webhooks"
)

// testKey is the server key every test manager derives secrets from.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// local is the unrestricted local user; it may allow plain http.
var local = experiments.Meta{Actor: "local"}

// harness is one embedded JetStream server with the event store, the
// experiments service writing to it, and a webhook manager reading it.
type harness struct {
	store *events.Store
	svc   *experiments.Service
	cfg   webhooks.Config
	m     *webhooks.Manager
}

// newHarness starts a broker and a manager with short backoffs; mod
// changes the manager's config before it is built.
func newHarness(t *testing.T, mod func(*webhooks.Config)) *harness {
	t.Helper()
	ctx := context.Background()
	_, nc := natsembedtest.Start(t)
	store, err := events.OpenStore(ctx, nc, events.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := experiments.NewService(experiments.ServiceConfig{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{store: store, svc: svc}
	h.cfg = webhooks.Config{
		Store: store, ServerKey: testKey, Visible: webhooks.StreamVisibility(store),
		BaseURL: "https://failforward.example/", AllowPrivateTargets: true,
		AttemptTimeout: 2 * time.Second, BackoffBase: 10 * time.Millisecond, BackoffMax: 40 * time.Millisecond,
		AckWait: time.Second, TLSConfig: testTLS(t),
	}
	if mod != nil {
		mod(&h.cfg)
	}
	h.m = h.newManager(t)
	return h
}

func (h *harness) newManager(t *testing.T) *webhooks.Manager {
	t.Helper()
	m, err := webhooks.NewManager(context.Background(), h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run runs m until the returned stop is called or the test ends; stop
// waits for Run to return and checks that it returned cleanly.
func run(t *testing.T, m *webhooks.Manager) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// create makes a subscription for r and gives r its secret.
func (h *harness) create(t *testing.T, meta experiments.Meta, r *receiver, in webhooks.CreateInput) webhooks.Subscription {
	t.Helper()
	if in.TargetURL == "" {
		in.TargetURL = r.url()
	}
	if in.Team == "" && meta.Principal == nil {
		in.Team = "growth"
	}
	res, err := h.m.Create(context.Background(), meta, in)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !strings.HasPrefix(res.Secret, webhooks.SecretPrefix) {
		t.Fatalf("Create returned secret %q, want one starting with %s", res.Secret, webhooks.SecretPrefix)
	}
	r.setSecret(res.Secret)
	return res.Subscription
}

// register registers an experiment of team with visibility and returns
// it.
func (h *harness) register(t *testing.T, team, title, visibility string) experiments.Experiment {
	t.Helper()
	x, err := h.svc.RegisterExperiment(context.Background(), local, experiments.RegisterExperiment{
		Team: team, Title: title, Kind: "pilot", Hypothesis: "h", SuccessMetric: "m", SuccessCriteria: "c",
		Owner: "ada", Visibility: visibility,
	})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return x
}

// eventID returns the id of the event at position seq.
func (h *harness) eventID(t *testing.T, seq uint64) string {
	t.Helper()
	rec, err := h.store.Get(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	return rec.ID
}

// barrier returns once the manager's Run has processed every webhook
// event written so far, including stopping or starting workers: it
// creates one more subscription and waits until Run has folded it, which
// Run does only after it has finished with the events before.
func (h *harness) barrier(t *testing.T) {
	t.Helper()
	res, err := h.m.Create(context.Background(), local, webhooks.CreateInput{
		Team: "barrier", TargetURL: "https://barrier.example/", Events: []string{events.InnovationUnlinked},
	})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the manager folds the barrier", func() bool {
		for _, s := range h.m.List(context.Background(), nil) {
			if s.ID == res.ID {
				return true
			}
		}
		return false
	})
}

// eventually polls cond until it holds, failing the test after a
// deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// delivery is one request a receiver got.
type delivery struct {
	id, timestamp, contentType string
	body                       []byte
	at                         time.Time
}

// receiver is a real HTTPS server on loopback that checks every
// delivery's signature with the Standard Webhooks algorithm, written out
// here from the specification rather than taken from the library the
// sender uses.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	// respond picks the status of the n-th request (1-based); 200 when
	// nil.
	respond func(n int, w http.ResponseWriter) int

	mu     sync.Mutex
	secret string
	got    []delivery
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter) int) *receiver {
	r := &receiver{t: t, respond: respond}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	d := delivery{
		id: req.Header.Get("webhook-id"), timestamp: req.Header.Get("webhook-timestamp"),
		contentType: req.Header.Get("Content-Type"), body: body, at: time.Now(),
	}
	r.mu.Lock()
	if err := verify(r.secret, d, req.Header.Get("webhook-signature")); err != nil {
		r.t.Errorf("delivery %s does not verify: %v", d.id, err)
	}
	r.got = append(r.got, d)
	n := len(r.got)
	r.mu.Unlock()
	status := http.StatusOK
	if r.respond != nil {
		status = r.respond(n, w)
	}
	w.WriteHeader(status)
}

// verify checks a delivery as the Standard Webhooks specification says:
// the signature is base64(HMAC-SHA256(key, id + "." + timestamp + "." +
// body)), key the base64 after whsec_, among the space-separated v1,
// signatures; and the timestamp is recent.
func verify(secret string, d delivery, header string) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return fmt.Errorf("bad secret %q", secret)
	}
	ts, err := strconv.ParseInt(d.timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", d.timestamp)
	}
	if age := time.Since(time.Unix(ts, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return fmt.Errorf("timestamp %d is %s away", ts, age)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", d.id, d.timestamp, d.body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(header) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

func (r *receiver) ids() []string {
	var out []string
	for _, d := range r.deliveries() {
		out = append(out, d.id)
	}
	return out
}

// waitFor waits until the receiver has got n requests and returns them.
func (r *receiver) waitFor(t *testing.T, n int) []delivery {
	t.Helper()
	eventually(t, fmt.Sprintf("the receiver has %d requests", n), func() bool { return len(r.deliveries()) >= n })
	return r.deliveries()
}

// testTLS trusts the certificate of httptest's TLS servers, which they
// all share.
func testTLS(t *testing.T) *tls.Config {
	probe := httptest.NewTLSServer(http.NotFoundHandler())
	defer probe.Close()
	pool := x509.NewCertPool()
	pool.AddCert(probe.Certificate())
	return &tls.Config{RootCAs: pool}
}
