package serverankings

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pipelinekit/pipelinekit/shared/rankings"
	"github.com/pipelinekit/pipelinekit/shared/viewtoken"
)

// Reader is what the handler reads; *rankings.Store in production.
type Reader interface {
	Top(ctx context.Context, r rankings.Ranking, w rankings.Window, now time.Time) ([]rankings.Item, error)
	RecentViews(ctx context.Context, user string) ([]rankings.View, error)
	Latest(ctx context.Context, s rankings.Search, cur *rankings.Cursor, n int) ([]rankings.Tweet, string, error)
}

// Limits of the parameters.
const (
	MaxUserIDLen = viewtoken.MaxUserIDLen // the token's bound too
	MaxQueryLen  = rankings.MaxSearchLen  // the search rule's bound (shared/rankings/search.go)
	DefaultPage  = 20
	MaxPage      = 100
)

// Handler serves the endpoints:
//
//	GET /rankings                              the rankings and windows
//	GET /rankings/{ranking}?window=1h&n=10     one ranking (window default 1h)
//	GET /recent_views?user_id=U                a user's recent views, with a token for U
//	                                           (ViewsTokenHeader; views_auth.go)
//	GET /tweets?q=%23gcp&n=20&cursor=C         latest tweets matching a search (words, "a phrase",
//	                                           #tag, @handle: rankings.ParseSearch), older pages by cursor
type Handler struct {
	r     Reader
	ttl   time.Duration
	now   func() time.Time
	log   *slog.Logger
	views ViewsAuthorizer

	mu    sync.Mutex
	cache map[string]*cached
}

type cached struct {
	mu         sync.Mutex // one computation at a time per ranking and window
	at         time.Time
	items      []rankings.Item
	from       time.Time
	to         time.Time
	refreshing bool
}

// NewHandler returns the handler over r; now defaults to time.Now.
func NewHandler(r Reader, cfg Config, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	views := cfg.Views
	if views == nil {
		views = viewsOff{}
	}
	return &Handler{r: r, ttl: cfg.CacheTTL, now: now, log: log, views: views, cache: map[string]*cached{}}
}

// unavailable is the whole answer to a failed read: the store's error names addresses,
// projects and databases that are for the log, not for whoever asked.
const unavailable = "rankings are unavailable; try again"

// RankingResponse is the answer of /rankings/{ranking}.
type RankingResponse struct {
	Ranking string          `json:"ranking"`
	Window  string          `json:"window"`
	From    time.Time       `json:"from"`
	To      time.Time       `json:"to"`
	AsOf    time.Time       `json:"as_of"`
	Items   []rankings.Item `json:"items"`
}

// validator is what a ranking's ETag is computed from: what it ranks and its items, so an
// unchanged ranking keeps its tag across computations and polls get 304.
func (r RankingResponse) validator() any {
	return struct {
		Ranking, Window string
		Items           []rankings.Item
	}{r.Ranking, r.Window, r.Items}
}

// RecentViewsResponse is the answer of /recent_views.
type RecentViewsResponse struct {
	UserID string          `json:"user_id"`
	Items  []rankings.View `json:"items"`
}

// TweetsResponse is the answer of /tweets.
type TweetsResponse struct {
	Query      string           `json:"q"`
	Term       string           `json:"term"`
	Tweets     []rankings.Tweet `json:"tweets"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// ErrorResponse is the answer to a refused request; Param names the bad parameter.
type ErrorResponse struct {
	Error string `json:"error"`
	Param string `json:"param,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSON(w, r, http.StatusMethodNotAllowed, ErrorResponse{Error: "read-only: use GET"}, "")
		return
	}
	path := "/" + strings.Trim(r.URL.Path, "/")
	// Served locally at /ServeRankings/..., deployed at /.
	path = strings.TrimPrefix(path, "/"+EntryPoint)
	var (
		body   any
		maxAge time.Duration
		err    error
	)
	switch {
	case path == "/rankings" || path == "" || path == "/":
		body, maxAge = index(), time.Hour
	case strings.HasPrefix(path, "/rankings/"):
		body, err = h.ranking(r, strings.TrimPrefix(path, "/rankings/"))
		maxAge = h.ttl
	case path == "/recent_views":
		// The answer depends on the token too: no cache may give it to another token's holder.
		w.Header().Set("Vary", ViewsTokenHeader)
		body, err = h.recentViews(r)
		maxAge = min(h.ttl, 2*time.Second)
	case path == "/tweets":
		body, err = h.tweets(r)
		maxAge = h.ttl
	default:
		writeJSON(w, r, http.StatusNotFound, ErrorResponse{Error: "no such endpoint: " + r.URL.Path +
			" (try /rankings, /rankings/{ranking}, /recent_views, /tweets)"}, "")
		return
	}
	var (
		bad    *rankings.BadParam
		denied *AuthError
	)
	switch {
	case errors.As(err, &denied):
		if denied.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `RecentViewsToken header="`+ViewsTokenHeader+`"`)
		}
		writeJSON(w, r, denied.Status, ErrorResponse{Error: denied.Reason}, "")
		return
	case errors.As(err, &bad):
		writeJSON(w, r, http.StatusBadRequest, ErrorResponse{Error: bad.Error(), Param: bad.Param}, "")
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "reading the rankings store", "path", path, "error", err)
		writeJSON(w, r, http.StatusServiceUnavailable, ErrorResponse{Error: unavailable}, "")
		return
	}
	writeJSON(w, r, http.StatusOK, body, fmt.Sprintf("private, max-age=%d", int(maxAge.Seconds())))
}

// Index is the answer of /rankings: what can be asked for.
type Index struct {
	Rankings []rankings.Ranking `json:"rankings"`
	Windows  []string           `json:"windows"`
	DefaultN int                `json:"default_n"`
	MaxN     int                `json:"max_n"`
}

func index() Index {
	ix := Index{Rankings: rankings.All, DefaultN: rankings.DefaultN, MaxN: rankings.MaxN}
	for _, w := range rankings.Windows {
		ix.Windows = append(ix.Windows, w.Name)
	}
	return ix
}

func (h *Handler) ranking(r *http.Request, name string) (any, error) {
	rk := rankings.Ranking(name)
	if !rk.Valid() {
		return nil, &rankings.BadParam{Param: "ranking", Reason: fmt.Sprintf("unknown ranking %s (one of %v)", rankings.Excerpt(name), rankings.All)}
	}
	q := r.URL.Query()
	wname := q.Get("window")
	if wname == "" {
		wname = "1h"
	}
	win, ok := rankings.WindowNamed(wname)
	if !ok {
		return nil, &rankings.BadParam{Param: "window", Reason: fmt.Sprintf("unknown window %s (one of %s)", rankings.Excerpt(wname), strings.Join(index().Windows, ", "))}
	}
	n, err := rankings.ParseN(q.Get("n"))
	if err != nil {
		return nil, err
	}
	c, err := h.top(r.Context(), rk, win)
	if err != nil {
		return nil, err
	}
	items := c.items[:min(n, len(c.items))]
	return RankingResponse{Ranking: name, Window: win.Name, From: c.from, To: c.to, AsOf: c.at, Items: items}, nil
}

// top returns the ranking computed at most ttl ago, or, once one was computed, the last one
// while a single background computation replaces it: with many readers an instance reads each
// window from Firestore once per ttl, and no reader waits for it but the very first.
func (h *Handler) top(ctx context.Context, rk rankings.Ranking, win rankings.Window) (*cached, error) {
	h.mu.Lock()
	c := h.cache[string(rk)+"/"+win.Name]
	if c == nil {
		c = &cached{}
		h.cache[string(rk)+"/"+win.Name] = c
	}
	h.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := h.now().UTC()
	fresh := !c.at.IsZero() && now.Sub(c.at) < h.ttl
	if fresh || (!c.at.IsZero() && h.ttl > 0) {
		if !fresh && !c.refreshing {
			c.refreshing = true
			go h.refresh(c, rk, win)
		}
		return &cached{at: c.at, items: c.items, from: c.from, to: c.to}, nil
	}
	items, err := h.r.Top(ctx, rk, win, now)
	if err != nil {
		return nil, err
	}
	from, to := win.Range(now)
	c.at, c.items, c.from, c.to = now, items, from, to
	return &cached{at: c.at, items: c.items, from: c.from, to: c.to}, nil
}

// refresh recomputes a cached ranking in the background; a failure keeps the old one (and the
// next request past the ttl tries again).
func (h *Handler) refresh(c *cached, rk rankings.Ranking, win rankings.Window) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := h.now().UTC()
	items, err := h.r.Top(ctx, rk, win, now)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshing = false
	if err != nil {
		return
	}
	from, to := win.Range(now)
	c.at, c.items, c.from, c.to = now, items, from, to
}

func (h *Handler) recentViews(r *http.Request) (any, error) {
	user := r.URL.Query().Get("user_id")
	switch {
	case user == "":
		return nil, &rankings.BadParam{Param: "user_id", Reason: "required"}
	case len(user) > MaxUserIDLen:
		return nil, &rankings.BadParam{Param: "user_id", Reason: fmt.Sprintf("longer than %d bytes", MaxUserIDLen)}
	case !utf8.ValidString(user):
		return nil, &rankings.BadParam{Param: "user_id", Reason: "not valid UTF-8"}
	}
	if err := h.views.AuthorizeViews(r, user); err != nil {
		return nil, err
	}
	views, err := h.r.RecentViews(r.Context(), user)
	if err != nil {
		return nil, err
	}
	return RecentViewsResponse{UserID: user, Items: views}, nil
}

func (h *Handler) tweets(r *http.Request) (any, error) {
	q := r.URL.Query()
	raw := q.Get("q")
	search, err := rankings.ParseSearch(raw)
	if err != nil {
		return nil, err
	}
	n := DefaultPage
	if s := q.Get("n"); s != "" {
		var err error
		if n, err = rankings.ParseN(s); err != nil {
			return nil, err
		}
	}
	cur, err := rankings.ParseCursor(q.Get("cursor"))
	if err != nil {
		return nil, err
	}
	tweets, next, err := h.r.Latest(r.Context(), search, cur, n)
	if err != nil {
		return nil, err
	}
	return TweetsResponse{Query: raw, Term: search.Term, Tweets: tweets, NextCursor: next}, nil
}

// writeJSON answers body as JSON. With a cacheControl (successful answers) it sets an ETag
// from the body and answers 304 to a request that already holds it.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, body any, cacheControl string) {
	b, err := json.Marshal(body)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	b = append(b, '\n')
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	// A body echoing a caller's input must never be sniffed as HTML; 304s carry it too, as a
	// cache may merge their headers into the stored answer.
	hd.Set("X-Content-Type-Options", "nosniff")
	if cacheControl != "" && status == http.StatusOK {
		// The validator is of the content: a ranking's items, not its as_of or window bounds,
		// which change on every computation. Such a tag is weak (RFC 9110, 8.8.1): the answers
		// it matches are equivalent, not byte for byte equal.
		tagged, weak := b, ""
		if v, ok := body.(interface{ validator() any }); ok {
			if vb, err := json.Marshal(v.validator()); err == nil {
				tagged, weak = vb, "W/"
			}
		}
		sum := sha256.Sum256(tagged)
		opaque := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		hd.Set("Cache-Control", cacheControl)
		hd.Set("ETag", weak+opaque)
		// If-None-Match compares weakly (RFC 9110, 13.1.2): W/"x" and "x" both match.
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, opaque) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	} else {
		hd.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
