// Package youtubefake runs a local YouTube Analytics API and Google OAuth token endpoint, so the
// official client runs unchanged in development, tests and benchmarks: YouTubeServer serves
// YouTube Analytics v2 GET /v2/reports (the path google.golang.org/api/youtubeanalytics/v2
// calls) and Google's OAuth token endpoint POST /token, with deterministic numbers per (video,
// day, metric), Google's error bodies, expiring access tokens and revocable refresh tokens. It
// injects faults (sourcestest's options) and counts what it served for assertions.
//
// Where the fake differs from Google: only the dimensions day, month and video and the filter
// video==... exist; every id gets data (no "video not in channel" check); the most recent days
// are not held back; month reports do not require whole months; quota is never counted (inject
// 403 quotaExceeded with FailNext).
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package youtubefake

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// YouTubeStats is a snapshot of what a YouTubeServer served.
type YouTubeStats struct {
	// Calls counts GET /v2/reports requests, whatever their outcome.
	Calls int
	// ByStatus counts report responses per HTTP status.
	ByStatus map[int]int
	// TokenRefreshes counts access tokens issued.
	TokenRefreshes int
	// TokenRequests counts POST /token requests, failed ones included.
	TokenRequests int
	// VideoDays counts distinct (video, day) cells served with 200.
	VideoDays int
	// MaxVideoDayCalls is the most times one (video, day) was served: 1 means
	// nothing was fetched twice.
	MaxVideoDayCalls int
}

// fault is one queued failure from FailNext.
type fault struct {
	status int
	reason string
}

// YouTubeServer is a local YouTube Analytics API and OAuth token endpoint.
type YouTubeServer struct {
	srv  *httptest.Server
	opts sourcestest.Options

	mu        sync.Mutex // guards everything below; never held while sleeping
	rng       *rand.Rand
	tokens    map[string]time.Time // access token -> expiry
	issued    int
	revoked   bool
	faults    []fault
	calls     int
	byStatus  map[int]int
	refreshes int
	tokenReqs int
	videoDay  map[string]int // video + "|" + day -> times served
}

// NewYouTubeServer starts a server on loopback; Close it when done.
func NewYouTubeServer(opts ...sourcestest.Option) *YouTubeServer {
	o := sourcestest.Resolve(opts)
	s := &YouTubeServer{
		opts:     o,
		rng:      rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		tokens:   map[string]time.Time{},
		byStatus: map[int]int{},
		videoDay: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/reports", s.handleReports)
	mux.HandleFunc("POST /token", s.handleToken)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL is the API base URL (YouTubeConfig.BaseURL).
func (s *YouTubeServer) URL() string { return s.srv.URL }

// TokenURL is the token endpoint (YouTubeConfig.TokenURL).
func (s *YouTubeServer) TokenURL() string { return s.srv.URL + "/token" }

// Close shuts the server down.
func (s *YouTubeServer) Close() { s.srv.Close() }

// RevokeRefreshToken makes the token endpoint answer invalid_grant from now
// on, as Google does after the user removes the app's access.
func (s *YouTubeServer) RevokeRefreshToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// ExpireAccessTokens invalidates every access token issued so far, as if they
// expired in flight; the next report request with one gets 401.
func (s *YouTubeServer) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// FailNext makes the next n authorized report requests fail with status and
// Google's error body for reason (e.g. 403 "quotaExceeded", 500
// "backendError").
func (s *YouTubeServer) FailNext(n, status int, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status: status, reason: reason})
	}
}

// Stats returns a snapshot of the counters.
func (s *YouTubeServer) Stats() YouTubeStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := YouTubeStats{Calls: s.calls, ByStatus: map[int]int{}, TokenRefreshes: s.refreshes, TokenRequests: s.tokenReqs, VideoDays: len(s.videoDay)}
	for k, v := range s.byStatus {
		st.ByStatus[k] = v
	}
	for _, n := range s.videoDay {
		st.MaxVideoDayCalls = max(st.MaxVideoDayCalls, n)
	}
	return st
}

// VideoDayCalls is how many times the (video, day) cell was served with 200.
func (s *YouTubeServer) VideoDayCalls(video, day string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.videoDay[video+"|"+day]
}

// handleToken is Google's token endpoint for grant_type=refresh_token.
func (s *YouTubeServer) handleToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		sourcestest.WriteOAuthError(w, http.StatusBadRequest, "invalid_request", "Could not parse the request body.")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenReqs++
	switch {
	case id != sourcestest.DefaultClientID:
		sourcestest.WriteOAuthError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
		return
	case secret != sourcestest.DefaultClientSecret:
		sourcestest.WriteOAuthError(w, http.StatusUnauthorized, "invalid_client", "Unauthorized")
		return
	case r.PostForm.Get("grant_type") != "refresh_token":
		sourcestest.WriteOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: "+r.PostForm.Get("grant_type"))
		return
	case s.revoked:
		sourcestest.WriteOAuthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
		return
	case r.PostForm.Get("refresh_token") != sourcestest.DefaultRefreshToken:
		sourcestest.WriteOAuthError(w, http.StatusBadRequest, "invalid_grant", "Bad Request")
		return
	}
	s.issued++
	s.refreshes++
	tok := fmt.Sprintf("ya29.sourcestest-%06d", s.issued)
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"expires_in":   max(1, int(s.opts.TokenTTL/time.Second)),
		"scope":        "https://www.googleapis.com/auth/yt-analytics.readonly",
		"token_type":   "Bearer",
	})
}

// handleReports is GET /v2/reports.
func (s *YouTubeServer) handleReports(w http.ResponseWriter, r *http.Request) {
	sourcestest.SleepCtx(r.Context(), s.opts.Latency)
	status, body, hdr, cells := s.report(r)
	s.mu.Lock()
	s.calls++
	s.byStatus[status]++
	for _, c := range cells {
		s.videoDay[c]++
	}
	s.mu.Unlock()
	for k, v := range hdr {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(body)
}

// report decides one report response: auth, faults, validation, data.
func (s *YouTubeServer) report(r *http.Request) (status int, body []byte, hdr map[string]string, cells []string) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	expiry, known := s.tokens[tok]
	valid := ok && known && s.opts.Now().Before(expiry)
	var f *fault
	if valid {
		f = s.drawFaultLocked()
	}
	s.mu.Unlock()
	if !valid {
		return http.StatusUnauthorized, sourcestest.GoogleErrorIn("youtube.quota", http.StatusUnauthorized, "authError", ""),
			map[string]string{"WWW-Authenticate": `Bearer realm="https://accounts.google.com/", error="invalid_token"`}, nil
	}
	if f != nil {
		hdr = map[string]string{}
		if f.status == http.StatusTooManyRequests {
			hdr["Retry-After"] = fmt.Sprint(int(s.opts.RetryAfter / time.Second))
		}
		return f.status, sourcestest.GoogleErrorIn("youtube.quota", f.status, f.reason, ""), hdr, nil
	}
	q, err := parseReportQuery(r.URL.Query(), s.opts.ChannelID)
	if err != nil {
		return err.status, sourcestest.GoogleErrorIn("youtube.quota", err.status, err.reason, err.message), nil, nil
	}
	videos := q.videos
	if videos == nil {
		videos = s.opts.Videos
	}
	b, cells := buildReport(q, videos)
	return http.StatusOK, b, nil, cells
}

// drawFaultLocked returns the next queued fault or a random one. s.mu must
// be held.
func (s *YouTubeServer) drawFaultLocked() *fault {
	if len(s.faults) > 0 {
		f := s.faults[0]
		s.faults = s.faults[1:]
		return &f
	}
	if s.opts.FailRate <= 0 && s.opts.Rate429 <= 0 {
		return nil
	}
	x := s.rng.Float64()
	switch {
	case x < s.opts.FailRate:
		return &fault{status: http.StatusServiceUnavailable, reason: "backendError"}
	case x < s.opts.FailRate+s.opts.Rate429:
		return &fault{status: http.StatusTooManyRequests, reason: "rateLimitExceeded"}
	}
	return nil
}

// Env points the youtube_analytics source at the fake: its token endpoint, its API and the
// grant it accepts (the values themselves, as local runs give them).
func (s *YouTubeServer) Env() map[string]string {
	return map[string]string{
		"YOUTUBE_CLIENT_ID":     sourcestest.DefaultClientID,
		"YOUTUBE_CLIENT_SECRET": sourcestest.DefaultClientSecret,
		"YOUTUBE_REFRESH_TOKEN": sourcestest.DefaultRefreshToken,
		"YOUTUBE_TOKEN_URL":     s.TokenURL(),
		"YOUTUBE_API_BASE_URL":  s.URL(),
	}
}

// Counts implements sourcestest.Fake: the report requests by status and the tokens issued.
func (s *YouTubeServer) Counts() sourcestest.Counts {
	st := s.Stats()
	return sourcestest.Counts{Calls: st.Calls, ByStatus: st.ByStatus, TokenRefreshes: st.TokenRefreshes}
}
