// Package deck is the live page of columns (a TweetDeck-like view of the rankings and tweets
// the serving function answers): its HTML, CSS and JavaScript are embedded, so it needs no
// build step and fetches nothing from outside at run time. The serving function mounts the
// Handler at "/"; the page reads the JSON endpoints documented in api.go.
//
// New tweets arrive by polling, not server-sent events: a Cloud Functions (2nd gen) instance
// holds a connection for at most its timeout and counts an open stream against its
// concurrency for as long as a page is open, so every idle tab would pin an instance slot
// (and its CPU bill) and every stream would be cut at the timeout anyway. A poll is a short,
// cacheable request (ETag, 304) that costs a slot for milliseconds, and the rankings behind
// it change at most every few seconds, so a poll every few seconds loses nothing a stream
// would show.
//
// Reference: docs/deck.md.
package deck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

//go:embed web
var web embed.FS

// Config is what the page needs to know; the serving function fills it from its own config.
type Config struct {
	// DefaultKeyword is the query of the column a new visitor sees first (a keyword or #tag).
	DefaultKeyword string
	// APIBase is where the page finds the endpoints of api.go: empty for the page's own URL
	// (the deck mounted at the serving function's root), a path ("/ServeRankings") or an
	// absolute URL.
	APIBase string
	// BackfillURL is the Backfill function's base URL; the deck proxies its status to the
	// backfills panel. Empty hides the panel.
	BackfillURL string
	// BackfillClient calls BackfillURL (in production one that adds an ID token for it); nil
	// is http.DefaultClient.
	BackfillClient *http.Client
	// HealthURL is where the deck reads the health it shows in its health panel (the local
	// stack's health endpoint); empty hides the panel. The deployed deck has no such source:
	// Cloud Monitoring holds those signals.
	HealthURL string
	// Window is the rankings' window (15m, 1h or 1d); empty is 1h.
	Window string
	// PollInterval is how often the page asks for new tweets and rankings; zero is 5s.
	PollInterval time.Duration
	// Log receives the backfills proxy's failures, which the page is not shown; nil is
	// slog.Default().
	Log *slog.Logger
	// CollectURL is CollectEvents' base URL and CollectKey the deck's write key: with both the
	// page loads CollectURL/collect.js and sends a search event per search and a detail_view
	// per opened tweet or item (web/track.js). Empty: the page sends nothing.
	CollectURL string
	CollectKey string
	// SignIn turns the page's sign-in on (web/account.js); nil leaves it off.
	SignIn *SignIn
	// Now is the clock a column's history is planned with (history.go); nil is time.Now.
	Now func() time.Time
	// History is the backfill source that fills a keyword column's history (history.go); nil
	// is the first registered one that can (backfill.TermHistorySource), and none turns the
	// history off (404).
	History backfill.TermHistorian
}

// SignIn is what the page signs in with: Identity Platform's REST endpoints
// (identitytoolkit.googleapis.com, securetoken.googleapis.com) under the project's web API key,
// or the same endpoints on the local Auth emulator.
type SignIn struct {
	APIKey string `json:"api_key"`
	// Emulator is the Auth emulator's base URL (http://127.0.0.1:9099), locally only.
	Emulator string `json:"emulator,omitempty"`
}

// signInOrigins are where the page's sign-in calls go in production.
const signInOrigins = " https://identitytoolkit.googleapis.com https://securetoken.googleapis.com"

// pageConfig is Config as the page reads it (embedded in the HTML as JSON).
type pageConfig struct {
	DefaultKeyword string  `json:"default_keyword"`
	APIBase        string  `json:"api_base"`
	Backfills      bool    `json:"backfills"`
	Health         bool    `json:"health"`
	Window         string  `json:"window"`
	PollMS         int64   `json:"poll_ms"`
	MaxQueryLen    int     `json:"max_query_len"`
	SignIn         *SignIn `json:"sign_in,omitempty"`
}

// Handler serves the page at "/", its assets under /deck/ and the backfills proxy.
type Handler struct {
	cfg      Config
	backfill *url.URL
	health   *url.URL
	index    []byte
	indexTag string
	assets   map[string]asset
	csp      string
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

var windows = map[string]bool{"15m": true, "1h": true, "1d": true}

// New checks cfg and returns the deck's handler.
func New(cfg Config) (*Handler, error) {
	kw := strings.TrimSpace(cfg.DefaultKeyword)
	if kw == "" || kw == "#" {
		return nil, errors.New("deck config: DefaultKeyword is empty")
	}
	if len(kw) > MaxQueryLen || strings.ContainsFunc(kw, unicode.IsSpace) {
		return nil, fmt.Errorf("deck config: DefaultKeyword %q is not one word or #hashtag of at most %d bytes", kw, MaxQueryLen)
	}
	cfg.DefaultKeyword = kw
	if cfg.Window == "" {
		cfg.Window = "1h"
	}
	if !windows[cfg.Window] {
		return nil, fmt.Errorf("deck config: Window %q is not 15m, 1h or 1d", cfg.Window)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.PollInterval < 100*time.Millisecond {
		return nil, fmt.Errorf("deck config: PollInterval %s is under 100ms", cfg.PollInterval)
	}
	cfg.APIBase = strings.TrimSuffix(cfg.APIBase, "/")
	connect := "'self'"
	if cfg.APIBase != "" && !strings.HasPrefix(cfg.APIBase, "/") {
		u, err := url.Parse(cfg.APIBase)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("deck config: APIBase %q is neither a path nor an http(s) URL", cfg.APIBase)
		}
		connect += " " + u.Scheme + "://" + u.Host
	}
	h := &Handler{cfg: cfg, assets: map[string]asset{}}
	if cfg.BackfillURL != "" {
		u, err := url.Parse(strings.TrimSuffix(cfg.BackfillURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("deck config: BackfillURL %q is not an http(s) URL", cfg.BackfillURL)
		}
		h.backfill = u
	}
	if cfg.HealthURL != "" {
		u, err := url.Parse(cfg.HealthURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("deck config: HealthURL %q is not an http(s) URL", cfg.HealthURL)
		}
		h.health = u
	}
	if h.cfg.BackfillClient == nil {
		h.cfg.BackfillClient = http.DefaultClient
	}
	if h.cfg.Log == nil {
		h.cfg.Log = slog.Default()
	}
	if h.cfg.History == nil {
		if src, ok := backfill.TermHistorySource(); ok {
			h.cfg.History = src
		}
	}
	if h.cfg.Now == nil {
		h.cfg.Now = time.Now
	}
	if s := cfg.SignIn; s != nil {
		if s.Emulator != "" {
			u, err := url.Parse(s.Emulator)
			if err != nil || u.Scheme != "http" || u.Host == "" {
				return nil, fmt.Errorf("deck config: SignIn.Emulator %q is not an http URL", s.Emulator)
			}
			connect += " " + u.Scheme + "://" + u.Host
		} else {
			connect += signInOrigins
		}
	}
	// Everything the page loads is its own; data can never become script or style.
	scripts := "'self'"
	if cfg.CollectURL != "" || cfg.CollectKey != "" {
		u, err := url.Parse(strings.TrimSuffix(cfg.CollectURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || cfg.CollectKey == "" {
			return nil, fmt.Errorf("deck config: CollectURL %q must be an http(s) URL, with a CollectKey", cfg.CollectURL)
		}
		h.cfg.CollectURL = u.String()
		if o := u.Scheme + "://" + u.Host; !strings.Contains(connect, o) {
			scripts += " " + o
			connect += " " + o
		}
	}
	h.csp = "default-src 'none'; script-src " + scripts + "; style-src 'self'; img-src 'self' data:; connect-src " +
		connect + "; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	for name, ct := range map[string]string{"deck.js": "text/javascript; charset=utf-8", "account.js": "text/javascript; charset=utf-8",
		"deck.css": "text/css; charset=utf-8", "track.js": "text/javascript; charset=utf-8"} {
		b, err := fs.ReadFile(web, "web/"+name)
		if err != nil {
			return nil, fmt.Errorf("reading embedded %s: %w", name, err)
		}
		h.assets["/deck/"+name] = asset{body: b, contentType: ct, etag: etag(b)}
	}
	if err := h.renderIndex(); err != nil {
		return nil, err
	}
	return h, nil
}

func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func (h *Handler) renderIndex() error {
	t, err := template.ParseFS(web, "web/index.html")
	if err != nil {
		return fmt.Errorf("parsing the deck's index.html: %w", err)
	}
	data := struct {
		Config     pageConfig
		Version    string
		CollectSrc string
		CollectKey string
		TrackV     string
	}{
		CollectSrc: strings.TrimSuffix(h.cfg.CollectURL, "/") + "/collect.js",
		CollectKey: h.cfg.CollectKey,
		TrackV:     strings.Trim(h.assets["/deck/track.js"].etag, `"`),
		Config: pageConfig{
			DefaultKeyword: h.cfg.DefaultKeyword,
			APIBase:        h.cfg.APIBase,
			Backfills:      h.backfill != nil,
			Health:         h.health != nil,
			Window:         h.cfg.Window,
			PollMS:         h.cfg.PollInterval.Milliseconds(),
			MaxQueryLen:    MaxQueryLen,
			SignIn:         h.cfg.SignIn,
		},
		Version: strings.ReplaceAll(h.assets["/deck/deck.js"].etag+h.assets["/deck/account.js"].etag+h.assets["/deck/deck.css"].etag, `"`, ""),
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("rendering the deck's index.html: %w", err)
	}
	h.index = buf.Bytes()
	h.indexTag = etag(h.index)
	return nil
}

var jobID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// ServeHTTP answers GET and HEAD for the page, its assets and the backfills panel, and POST for
// a column's history; anything else under it is a 404 (the serving function's own routes are
// more specific).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/deck/history" {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.history(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch p := r.URL.Path; {
	case p == "/" || p == "/index.html":
		w.Header().Set("Content-Security-Policy", h.csp)
		h.serve(w, r, asset{body: h.index, contentType: "text/html; charset=utf-8", etag: h.indexTag}, "no-cache")
	case h.assets[p].body != nil:
		// The page names assets with their hash (?v=), so a new deploy is never mixed with
		// an old cached script.
		h.serve(w, r, h.assets[p], "public, max-age=3600")
	case p == "/deck/backfills" || strings.HasPrefix(p, "/deck/backfills/"):
		// Not cached: the panel wants the progress as it is now.
		h.backfills(w, r, strings.TrimPrefix(strings.TrimPrefix(p, "/deck/backfills"), "/"))
	case p == "/deck/health":
		h.serveHealth(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, a asset, cache string) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// backfillTimeout bounds one proxied status call, well under the page's poll interval.
const backfillTimeout = 10 * time.Second

// backfills forwards a read of the Backfill function: the list of jobs, or one job's status.
func (h *Handler) backfills(w http.ResponseWriter, r *http.Request, id string) {
	if h.backfill == nil {
		writeError(w, http.StatusNotFound, "backfills: no Backfill function is configured", "")
		return
	}
	target := *h.backfill
	target.Path += "/backfills"
	if id != "" {
		if !jobID.MatchString(id) {
			writeError(w, http.StatusBadRequest, "id: a backfill job id has only letters, digits, - and _", "id")
			return
		}
		target.Path += "/" + id
	} else {
		q := url.Values{}
		for _, k := range []string{"page_token", "page_size", "limit"} {
			if v := r.URL.Query().Get(k); v != "" {
				q.Set(k, v)
			}
		}
		target.RawQuery = q.Encode()
	}
	ctx, cancel := context.WithTimeout(r.Context(), backfillTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		h.backfillFailed(w, r, fmt.Errorf("building the backfill status request: %w", err))
		return
	}
	req.Header.Set("Accept", "application/json")
	resp, err := h.cfg.BackfillClient.Do(req)
	if err != nil {
		h.backfillFailed(w, r, fmt.Errorf("asking the Backfill function: %w", err))
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		h.backfillFailed(w, r, fmt.Errorf("reading the Backfill function's answer to %s: %w", target.Path, err))
		return
	}
	switch {
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusNotFound:
		// The page shows these ("no such job"): pass on only the fields it reads.
		var e APIError
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e = APIError{Error: http.StatusText(resp.StatusCode)}
		}
		writeError(w, resp.StatusCode, e.Error, e.Param)
		return
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		// Its 5xx bodies are its internal errors, and a 401 or 403 comes from Cloud Run
		// refusing the deck's token: both are the deck's trouble, not the page's.
		h.backfillFailed(w, r, fmt.Errorf("the Backfill function answered %s to %s: %.500s", resp.Status, target.Path, body))
		return
	}
	// Only the fields the panel renders pass: a status also carries failure causes, quota
	// reports and blocked reasons, which the page never shows and no reader of it should get.
	out, err := panelView(body, id != "")
	if err != nil {
		h.backfillFailed(w, r, fmt.Errorf("decoding the Backfill function's answer to %s: %w", target.Path, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(out) // a write error means the page went away: nothing to do
}

// panelView re-encodes the Backfill function's answer with only the fields of Job: one job's
// status (one), or its list of jobs ({"jobs":[...]} or a bare array) as PanelJobs.
func panelView(body []byte, one bool) ([]byte, error) {
	if one {
		var j Job
		if err := json.Unmarshal(body, &j); err != nil {
			return nil, err
		}
		return json.Marshal(j)
	}
	list := PanelJobs{Jobs: []Job{}}
	var err error
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		err = json.Unmarshal(body, &list.Jobs)
	} else {
		err = json.Unmarshal(body, &list)
	}
	if err != nil {
		return nil, err
	}
	if list.Jobs == nil {
		list.Jobs = []Job{}
	}
	return json.Marshal(list)
}

// backfillUnavailable is the page's whole answer when the Backfill function cannot be read.
const backfillUnavailable = "backfills are unavailable; try again"

// backfillFailed logs err and answers 502 without it: its text names the Backfill function's
// URL and internal errors.
func (h *Handler) backfillFailed(w http.ResponseWriter, r *http.Request, err error) {
	h.cfg.Log.ErrorContext(r.Context(), "proxying the backfills panel", "error", err)
	writeError(w, http.StatusBadGateway, backfillUnavailable, "")
}

func writeError(w http.ResponseWriter, status int, msg, param string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(APIError{Error: msg, Param: param}) // cannot fail for strings
}
