// Package xsearchfake runs a local X API v2 search for the x_search source.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package xsearchfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch"
)

// XSearchToken is the bearer token XSearchServer accepts.
const XSearchToken = "xsearchtest-token"

// XSearchServer serves X API v2 GET /2/tweets/search/recent and /2/tweets/search/all over a
// fixed set of tweets, the filtered stream's messages ({"data":tweet,"includes":{"users":...}},
// as in shared/localstack/testdata/sample_stream.jsonl), newest first as X returns them.
//
// Like X it checks the bearer token (401), max_results (10..100 recent, 10..500 all), the
// query's length (512 / 1024), start_time within the last 7 days for recent search and
// start_time before end_time (400), pages by next_token, and sends x-rate-limit-limit,
// -remaining and -reset on every answer, 429 once the window's requests are spent.
// Unlike X: the query is not evaluated (every tweet matches), the window's size is
// WithXRateWindow's (default 450 requests a 15 minutes, a figure of ours), and With429Rate
// injects 429s whose x-rate-limit-reset is retryAfter from now.
type XSearchServer struct {
	srv    *httptest.Server
	mux    *http.ServeMux
	opts   sourcestest.Options
	tweets []xTweet

	token     string
	mu        sync.Mutex
	rng       *rand.Rand
	limit     int
	window    time.Duration
	used      int
	resetAt   time.Time
	calls     int
	byStatus  map[int]int
	pageLimit int
}

type xTweet struct {
	id      string
	created time.Time
	data    json.RawMessage
	users   []json.RawMessage
}

// NewXSearchServer serves messages (stream-shaped lines); a line that is not a tweet with an id
// and created_at is skipped.
func NewXSearchServer(messages [][]byte, opts ...sourcestest.Option) *XSearchServer {
	o := sourcestest.Resolve(opts)
	s := &XSearchServer{opts: o, token: XSearchToken, rng: rand.New(rand.NewPCG(o.Seed, o.Seed)), limit: 450, window: 15 * time.Minute,
		byStatus: map[int]int{}}
	for _, m := range messages {
		var msg struct {
			Data     json.RawMessage `json:"data"`
			Includes struct {
				Users []json.RawMessage `json:"users"`
			} `json:"includes"`
		}
		if json.Unmarshal(bytes.TrimSpace(m), &msg) != nil || len(msg.Data) == 0 {
			continue
		}
		var head struct {
			ID        string `json:"id"`
			CreatedAt string `json:"created_at"`
		}
		if json.Unmarshal(msg.Data, &head) != nil || head.ID == "" {
			continue
		}
		c, err := time.Parse(time.RFC3339, head.CreatedAt)
		if err != nil {
			continue
		}
		s.tweets = append(s.tweets, xTweet{id: head.ID, created: c, data: msg.Data, users: msg.Includes.Users})
	}
	// Newest first, as X's search answers.
	slices.SortFunc(s.tweets, func(a, b xTweet) int { return b.created.Compare(a.created) })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2/tweets/search/recent", func(w http.ResponseWriter, r *http.Request) { s.search(w, r, xsearch.XSearchRecent) })
	mux.HandleFunc("GET /2/tweets/search/all", func(w http.ResponseWriter, r *http.Request) { s.search(w, r, xsearch.XSearchAll) })
	s.mux = mux
	s.srv = httptest.NewServer(mux)
	return s
}

// Front makes the server answer every other path (the filtered stream's, say) by proxying to
// the X API fake at base, whose bearer token is token, so one X_API_BASE_URL serves both.
func (s *XSearchServer) Front(base, token string) error {
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", base, err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.FlushInterval = -1 // the stream's lines as they come
	s.mux.Handle("/", p)
	s.mu.Lock()
	s.token = token
	s.mu.Unlock()
	return nil
}

// SetRateWindow sets the requests a window allows and the window's length, and starts a new one.
func (s *XSearchServer) SetRateWindow(limit int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit, s.window, s.used, s.resetAt = limit, window, 0, time.Time{}
}

// SetPageLimit caps a page below max_results (0: no cap), so a small data set spans pages.
func (s *XSearchServer) SetPageLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageLimit = n
}

// URL is the server's base URL.
func (s *XSearchServer) URL() string { return s.srv.URL + "/" }

// Close stops the server.
func (s *XSearchServer) Close() { s.srv.Close() }

// Calls returns the requests served, and how many of them had each status.
func (s *XSearchServer) Calls() (int, map[int]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, maps.Clone(s.byStatus)
}

func xProblem(w http.ResponseWriter, status int, title, detail string) {
	sourcestest.WriteJSON(w, status, map[string]any{"title": title, "detail": detail, "type": "about:blank", "status": status})
}

func (s *XSearchServer) search(w http.ResponseWriter, r *http.Request, endpoint string) {
	sourcestest.SleepCtx(r.Context(), s.opts.Latency)
	now := s.opts.Now().UTC()
	s.mu.Lock()
	s.calls++
	if s.resetAt.IsZero() || !now.Before(s.resetAt) {
		s.used, s.resetAt = 0, now.Add(s.window).Truncate(time.Second)
	}
	status := s.answer(w, r, endpoint, now)
	s.byStatus[status]++
	s.mu.Unlock()
}

// answer writes the response; s.mu is held.
func (s *XSearchServer) answer(w http.ResponseWriter, r *http.Request, endpoint string, now time.Time) int {
	h := w.Header()
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		xProblem(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized")
		return http.StatusUnauthorized
	}
	x := 1.0
	if s.opts.FailRate > 0 || s.opts.Rate429 > 0 {
		x = s.rng.Float64()
	}
	rateHeaders := func(remaining int, reset time.Time) {
		h.Set("x-rate-limit-limit", strconv.Itoa(s.limit))
		h.Set("x-rate-limit-remaining", strconv.Itoa(remaining))
		h.Set("x-rate-limit-reset", strconv.FormatInt(reset.Unix(), 10))
	}
	switch {
	case x < s.opts.FailRate:
		xProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "Service Unavailable")
		return http.StatusServiceUnavailable
	case x < s.opts.FailRate+s.opts.Rate429:
		rateHeaders(0, now.Add(max(s.opts.RetryAfter, time.Second)))
		sourcestest.WriteJSON(w, http.StatusTooManyRequests, map[string]any{"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})
		return http.StatusTooManyRequests
	}
	if s.used >= s.limit {
		rateHeaders(0, s.resetAt)
		sourcestest.WriteJSON(w, http.StatusTooManyRequests, map[string]any{"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})
		return http.StatusTooManyRequests
	}
	s.used++
	rateHeaders(s.limit-s.used, s.resetAt)

	q := r.URL.Query()
	bad := func(detail string) int {
		sourcestest.WriteJSON(w, http.StatusBadRequest, map[string]any{"errors": []map[string]any{{"message": detail}},
			"title": "Invalid Request", "detail": "One or more parameters to your request was invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"})
		return http.StatusBadRequest
	}
	query := q.Get("query")
	if query == "" || len([]rune(query)) > xsearch.XMaxQuery(endpoint) {
		return bad(fmt.Sprintf("The `query` param must be 1 to %d characters", xsearch.XMaxQuery(endpoint)))
	}
	maxResults := 10
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < xsearch.XMinResults || n > xsearch.XMaxResults(endpoint) {
			return bad(fmt.Sprintf("The `max_results` query parameter value [%s] is not between %d and %d", v, xsearch.XMinResults, xsearch.XMaxResults(endpoint)))
		}
		maxResults = n
	}
	start, end := time.Time{}, now.Add(-10*time.Second)
	if v := q.Get("start_time"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return bad("Invalid start_time")
		}
		start = t
	}
	if v := q.Get("end_time"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return bad("Invalid end_time")
		}
		end = t
	}
	if endpoint == xsearch.XSearchRecent && !start.IsZero() && start.Before(now.Add(-7*24*time.Hour)) {
		return bad(fmt.Sprintf("Invalid 'start_time':'%s'. 'start_time' must be on or after %s", q.Get("start_time"), now.Add(-7*24*time.Hour).Format(time.RFC3339)))
	}
	if !start.IsZero() && !start.Before(end) {
		return bad("Invalid 'end_time': 'end_time' must be after 'start_time'")
	}
	offset := 0
	if v := q.Get("next_token"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "t"))
		if err != nil || !strings.HasPrefix(v, "t") || n < 0 {
			return bad("Invalid next_token")
		}
		offset = n
	}
	size := maxResults
	if s.pageLimit > 0 {
		size = min(size, s.pageLimit)
	}
	var match []xTweet
	for _, t := range s.tweets {
		if (start.IsZero() || !t.created.Before(start)) && t.created.Before(end) {
			match = append(match, t)
		}
	}
	page := match[min(offset, len(match)):min(offset+size, len(match))]
	data := make([]json.RawMessage, 0, len(page))
	var users []json.RawMessage
	seen := map[string]bool{}
	for _, t := range page {
		data = append(data, t.data)
		for _, u := range t.users {
			if !seen[string(u)] {
				seen[string(u)] = true
				users = append(users, u)
			}
		}
	}
	meta := map[string]any{"result_count": len(page)}
	if len(page) > 0 {
		meta["newest_id"], meta["oldest_id"] = page[0].id, page[len(page)-1].id
	}
	if offset+size < len(match) {
		meta["next_token"] = "t" + strconv.Itoa(offset+size)
	}
	body := map[string]any{"meta": meta}
	if len(data) > 0 {
		body["data"] = data
		body["includes"] = map[string]any{"users": users}
	}
	sourcestest.WriteJSON(w, http.StatusOK, body)
	return http.StatusOK
}

// Rebase moves every tweet's created_at by one offset so that the newest is newest, keeping
// their spacing: recorded data then falls inside recent search's 7 days.
func (s *XSearchServer) Rebase(newest time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tweets) == 0 {
		return
	}
	shift := newest.Sub(s.tweets[0].created)
	for i, t := range s.tweets {
		var data map[string]json.RawMessage
		if json.Unmarshal(t.data, &data) != nil {
			continue
		}
		c := t.created.Add(shift).UTC()
		data["created_at"], _ = json.Marshal(c.Format("2006-01-02T15:04:05.000Z"))
		b, _ := json.Marshal(data)
		s.tweets[i].created, s.tweets[i].data = c, b
	}
}

// IDs returns the served tweets' ids, newest first.
func (s *XSearchServer) IDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.tweets))
	for i, t := range s.tweets {
		out[i] = t.id
	}
	return out
}

// Env points the x_search source at the fake, with the token it accepts (the stream fake's
// when it fronts one).
func (s *XSearchServer) Env() map[string]string {
	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	return map[string]string{"X_BEARER_TOKEN": token, "X_API_BASE_URL": s.URL()}
}

// Counts implements sourcestest.Fake: the search requests by status (a bearer token, no
// token endpoint).
func (s *XSearchServer) Counts() sourcestest.Counts {
	n, by := s.Calls()
	return sourcestest.Counts{Calls: n, ByStatus: by}
}
