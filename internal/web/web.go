// Package web serves failforward in the browser: dashboards for
// innovation leads and forms for product teams, rendered on the server
// with html/template from the same read models and commands as the JSON
// API. Every asset is embedded in the binary, so the UI makes no request
// outside the server it came from.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/failforward/failforward/internal/auth"
	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/httperr"
	"github.com/failforward/failforward/internal/readmodel"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/webhooks"
)

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures a Handler.
type Config struct {
	// Service decides and appends the forms' commands. Required.
	Service *experiments.Service
	// Queries answers the pages' reads. Required.
	Queries *readmodel.Queries
	// ReadStore is the read-model database: its position tells the live
	// stream when to refresh, and commands wait for it to read their own
	// writes. Required.
	ReadStore *readstore.DB
	// Authenticate checks a token typed into the sign-in form and returns
	// its principal. Nil means the UI has no sign-in: every request is the
	// local admin, as in the JSON API without AUTH_FILE. When set, every
	// page but sign-in and the static files needs the principal that
	// auth.Middleware, in front of the handler, puts in the request's
	// context (auth.PrincipalFrom) from the session cookie
	// auth.CookieName; it must be set whenever that middleware checks
	// tokens.
	Authenticate func(token string) (*experiments.Principal, error)
	// SignInFor is how long a browser keeps a sign-in; 12h when zero.
	SignInFor time.Duration
	// Logger logs internal errors; slog.Default when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// WriteWait bounds how long a form waits, after its command, for the
	// read models to reach the command's position before it redirects;
	// 3s when zero.
	WriteWait time.Duration
	// LivePoll is how often a live stream checks the read store's
	// position; 500ms when zero.
	LivePoll time.Duration
	// Webhooks is the webhook engine the webhook pages manage; nil
	// leaves them out of the menu and answers them with 503.
	Webhooks *webhooks.Manager
	// CSRFKey signs the form tokens; 32 random bytes when nil, so tokens
	// of an earlier process do not validate.
	CSRFKey []byte
}

func (c *Config) setDefaults() error {
	if c.SignInFor == 0 {
		c.SignInFor = 12 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.WriteWait == 0 {
		c.WriteWait = 3 * time.Second
	}
	if c.LivePoll == 0 {
		c.LivePoll = 500 * time.Millisecond
	}
	if c.CSRFKey == nil {
		c.CSRFKey = make([]byte, 32)
		if _, err := rand.Read(c.CSRFKey); err != nil {
			return fmt.Errorf("web: make CSRF key: %w", err)
		}
	}
	return nil
}

// Validate reports every required field that is missing.
func (c *Config) Validate() error {
	var errs []error
	if c.Service == nil {
		errs = append(errs, errors.New("web: Config.Service is required"))
	}
	if c.Queries == nil {
		errs = append(errs, errors.New("web: Config.Queries is required"))
	}
	if c.ReadStore == nil {
		errs = append(errs, errors.New("web: Config.ReadStore is required"))
	}
	if c.CSRFKey != nil && len(c.CSRFKey) < 16 {
		errs = append(errs, errors.New("web: Config.CSRFKey must be at least 16 bytes"))
	}
	return errors.Join(errs...)
}

// Handler is the web UI. It is an http.Handler meant to serve every path
// that the JSON API does not.
type Handler struct {
	svc     *experiments.Service
	queries *readmodel.Retrying
	db      *readstore.DB
	// authenticate is nil when the UI has no sign-in.
	authenticate func(token string) (*experiments.Principal, error)
	signInFor    time.Duration
	log          *slog.Logger
	now          func() time.Time
	writeWait    time.Duration
	livePoll     time.Duration
	csrf         csrf
	pages        map[string]*template.Template
	assetTag     string
	static       http.Handler
	mux          *http.ServeMux
	hooks        *webhooks.Manager

	// done is closed by Close, so that live streams end when the server
	// shuts down instead of holding it open.
	done      chan struct{}
	closeOnce sync.Once
}

// New returns a Handler for cfg. It parses every template once, here, so
// that a broken template stops the program at startup rather than on the
// first request that needs it.
func New(cfg Config) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static assets: %w", err)
	}
	tag, err := assetTag(static)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		svc: cfg.Service, queries: readmodel.NewRetrying(cfg.Queries), db: cfg.ReadStore, authenticate: cfg.Authenticate, signInFor: cfg.SignInFor,
		log: cfg.Logger, now: cfg.Now, writeWait: cfg.WriteWait, livePoll: cfg.LivePoll,
		csrf: csrf{key: cfg.CSRFKey}, assetTag: tag, static: http.StripPrefix("/static/", http.FileServerFS(static)),
		mux: http.NewServeMux(), done: make(chan struct{}), hooks: cfg.Webhooks,
	}
	if h.pages, err = parsePages(h.funcs()); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

// Close ends the live streams in flight; pass it to
// http.Server.RegisterOnShutdown, since Shutdown does not end requests
// that never finish on their own. The handler keeps serving other
// requests.
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.done) })
}

// ServeHTTP serves one request with the UI's security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Everything the UI needs comes from this server, and no page has an
	// inline script or style, so the policy can be this strict.
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	if !h.signedIn(w, r) {
		return
	}
	h.mux.ServeHTTP(w, h.withNonce(w, r))
}

// assetTag is a short hash of every static file, added to asset URLs so
// that browsers may cache them for good and still fetch a new release.
func assetTag(static fs.FS) (string, error) {
	sum := sha256.New()
	err := fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(sum, "%s\x00%d\x00", path, len(b))
		sum.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("web: hash static assets: %w", err)
	}
	return hex.EncodeToString(sum.Sum(nil))[:12], nil
}

func (h *Handler) handleStatic(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/") {
		h.handleNotFound(w, r) // no directory listings
		return
	}
	if r.URL.Query().Get("v") == h.assetTag {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	h.static.ServeHTTP(w, r)
}

// handleFavicon answers the browsers that ask for /favicon.ico before
// reading the page's icon link, so that they get the icon and not a
// redirect to sign in.
func (h *Handler) handleFavicon(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeFileFS(w, r, staticFS, "static/favicon.svg")
}

// page is what every template receives: the layout's fields and the
// page's own data.
type page struct {
	Title string
	// Nav names the navigation entry to mark as current.
	Nav string
	// CSRF is the token forms send back.
	CSRF string
	// Position is the read store's position the page was rendered at; the
	// live script asks for changes after it.
	Position uint64
	// Live marks pages that refresh themselves when events are projected.
	Live bool
	// Who is the signed-in principal the header names; nil without
	// sign-in.
	Who *experiments.Principal
	// Anonymous marks a page shown to someone not signed in, such as the
	// sign-in form: it offers no menu, since every entry would only lead
	// back to the sign-in form.
	Anonymous bool
	// CanRegister offers the menu's link to register an experiment.
	CanRegister bool
	// CanWebhooks offers the menu's link to the webhook pages.
	CanWebhooks bool
	Data        any
}

// render executes template name into a buffer first, so that a template
// error becomes a clean 500 and not half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t, ok := h.pages[name]
	if !ok {
		h.fail(w, r, fmt.Errorf("no template %q", name))
		return
	}
	p.CSRF = h.csrf.token(r)
	if h.authenticate != nil {
		p.Who = auth.PrincipalFrom(r.Context())
		p.Anonymous = p.Who == nil
	}
	p.CanRegister = !p.Anonymous && writesExperiments(h.principal(r))
	p.CanWebhooks = !p.Anonymous && h.hooks != nil && managesWebhooks(h.principal(r))
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.Error("render page", slog.String("page", name), slog.Any("err", err))
		http.Error(w, "The page could not be rendered.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// position returns the read store's position for a live page; a page
// that cannot read it renders anyway and refreshes on the next change.
func (h *Handler) position(ctx context.Context) uint64 {
	pos, err := h.db.Position(ctx)
	if err != nil {
		h.log.Warn("read position for live page", slog.Any("err", err))
	}
	return pos
}

type errorPage struct {
	Heading string
	Message string
	// SignIn links to the sign-in form, on a page that asks to sign in.
	SignIn string
}

// fail answers err with an HTML error page, with the status httperr
// gives its kind. Only internal errors are logged, and their text is
// never shown.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	prob := httperr.Answer(w, r, h.log, err)
	p := errorPageOf(err, prob)
	h.render(w, r, prob.Status, "error", page{Title: p.Heading, Data: p})
}

// errorPageOf words a problem for the error page.
func errorPageOf(err error, prob httperr.Problem) errorPage {
	switch prob.Status {
	case http.StatusNotFound:
		return errorPage{Heading: "Not found", Message: "There is nothing here. It may never have existed, or you may not be allowed to see it."}
	case http.StatusBadRequest:
		if errors.Is(err, readmodel.ErrBadFilter) || errors.Is(err, readmodel.ErrBadCursor) {
			return errorPage{Heading: "That filter does not work", Message: "The page's filters or paging link are not valid. Start again from the menu."}
		}
		return errorPage{Heading: "That request does not work", Message: prob.Message}
	case http.StatusForbidden:
		return errorPage{Heading: "Not allowed", Message: notAllowedText(prob.Message)}
	case http.StatusConflict, http.StatusPreconditionFailed:
		return errorPage{Heading: "That cannot be done now", Message: sentence(prob.Message)}
	case http.StatusServiceUnavailable:
		if prob.Unavailable() {
			return errorPage{Heading: "Not available right now", Message: "The server cannot reach its data at the moment. Try again in a moment; nothing you saved is lost."}
		}
		return errorPage{Heading: "Not ready yet", Message: "The dashboards are catching up with the latest changes. Try again in a moment."}
	}
	return errorPage{
		Heading: "Something went wrong on our side",
		Message: "The page could not be loaded. Try again in a moment; if it keeps happening, the server's log says why.",
	}
}

// pathID returns the {id} of r's path, or experiments.ErrNotFound when
// it cannot be an id at all.
func pathID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if !experiments.ValidID(id) {
		return "", experiments.ErrNotFound
	}
	return id, nil
}

func (h *Handler) handleNotFound(w http.ResponseWriter, r *http.Request) {
	h.fail(w, r, experiments.ErrNotFound)
}
