// Package xstreamtest is a local X API v2 filtered-stream server for tests
// and for running the pipeline offline: the real xstream.Client (or any X
// client) talks to it over loopback HTTP.
//
// It implements GET/POST /2/tweets/search/stream/rules (add, delete by ids or
// values, dry_run, rule validation, DuplicateRule) and GET
// /2/tweets/search/stream, which plays a script of raw message lines with the
// stream's "\r\n" framing and keep-alives, plus scriptable faults. Response
// bodies follow the responses recorded from X in 2020 (postman collection,
// see shared/testdata/README.md section 2).
//
// Differences from X, on purpose or for lack of a recorded sample:
//   - Rule validation covers a few rules only: max 512 characters,
//     unbalanced quotes or parentheses, a rule with no positive standalone
//     clause (negations or conjunction-required operators such as has:, is:,
//     lang: only), lowercase "or". Detail texts for the length, "or" and
//     negation cases are X's; the quote and parenthesis texts are ours.
//   - A second stream connection is answered 429 TooManyConnections only if
//     the first is still open after a grace period (WithConcurrencyGrace),
//     because the server learns of a client's close asynchronously.
//   - No rate limiting and no x-rate-limit-* headers,
//     no rule cap, no rules pagination.
//   - WithNumberedStream's tweets match whatever the rules are, and
//     backfill_minutes is honoured for every token (X allows it only for some
//     access levels); a value other than 1 to 5 is answered 400 in X's
//     invalid-request shape, with our wording.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package xstreamtest

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// DefaultToken is the bearer token the server accepts unless WithBearerToken
// sets another.
const DefaultToken = "xstreamtest-token"

// Server is a running local X API server. Its methods are safe for
// concurrent use.
type Server struct {
	srv    *httptest.Server
	log    *slog.Logger
	token  string
	keep   time.Duration // keep-alive interval
	every  time.Duration // pause before each scripted message
	closeW bool          // close the stream when the script is exhausted
	grace  time.Duration
	now    func() time.Time
	done   chan struct{}
	closed sync.Once

	mu          sync.Mutex // guards everything below
	rules       []xstream.StoredRule
	nextID      uint64
	script      []Step
	cursor      int
	changed     chan struct{} // closed and replaced when script or live changes
	live        int
	stats       Stats
	forbidden   bool
	streamQuery []url.Values

	numberEvery time.Duration // WithNumberedStream
	start       time.Time     // when numbered tweet 0 would have been posted
	listener    net.Listener  // WithListener
}

// Stats records what the server saw, for assertions.
type Stats struct {
	// ConnectionsOpened counts stream connections answered 200.
	ConnectionsOpened int
	// MaxConcurrent is the most stream connections open at once.
	MaxConcurrent int
	// TooManyConnections counts connections refused with 429 because one
	// was already open.
	TooManyConnections int
	// StreamRequests counts all GET /2/tweets/search/stream requests.
	StreamRequests int
	// Unauthorized counts requests refused with 401.
	Unauthorized int
	// RulesRequests lists rules requests in arrival order.
	RulesRequests []RulesRequest
}

// RulesRequest is one request to the rules endpoint.
type RulesRequest struct {
	// Method is GET or POST.
	Method string
	// DryRun is true for POST ...?dry_run=true.
	DryRun bool
	// Body is the request body.
	Body string
	// Status is the HTTP status answered.
	Status int
}

// Option configures a Server.
type Option func(*Server)

// WithBearerToken sets the only bearer token accepted (default DefaultToken).
func WithBearerToken(token string) Option { return func(s *Server) { s.token = token } }

// WithKeepAlive sets the keep-alive interval (X: 20 s; default 20 s).
func WithKeepAlive(d time.Duration) Option { return func(s *Server) { s.keep = d } }

// WithMessageInterval pauses d before each scripted message, to demo a
// steady trickle of tweets.
func WithMessageInterval(d time.Duration) Option { return func(s *Server) { s.every = d } }

// WithCloseWhenDone makes the stream end the response when the script is
// exhausted, instead of holding it open with keep-alives.
func WithCloseWhenDone() Option { return func(s *Server) { s.closeW = true } }

// WithConcurrencyGrace sets how long a new stream connection waits for an
// open one to go away before it is refused with 429 (default 1 s).
func WithConcurrencyGrace(d time.Duration) Option { return func(s *Server) { s.grace = d } }

// WithScript sets the initial stream script; see Step.
func WithScript(steps ...Step) Option {
	return func(s *Server) { s.script = append(s.script, steps...) }
}

// WithRules seeds stored rules; ids are assigned as X would.
func WithRules(rules ...xstream.Rule) Option {
	return func(s *Server) {
		for _, r := range rules {
			s.rules = append(s.rules, xstream.StoredRule{ID: s.newID(), Value: r.Value, Tag: r.Tag})
		}
	}
}

// WithForbidden answers every request 403 client-not-enrolled, as X does
// for an app without access to the endpoint.
func WithForbidden() Option { return func(s *Server) { s.forbidden = true } }

// WithLogger sets the server's logger (nil means slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock sets the clock used for meta.sent (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// NewServer starts a server on a loopback port. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{
		token:   DefaultToken,
		keep:    20 * time.Second,
		grace:   time.Second,
		now:     time.Now,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		nextID:  1273636687768285186, // the first id X gave in the recorded examples
	}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+xstream.StreamPath, s.handleStream)
	mux.HandleFunc("GET "+xstream.RulesPath, s.handleGetRules)
	mux.HandleFunc("POST "+xstream.RulesPath, s.handlePostRules)
	s.start = time.Now()
	s.startServer(mux)
	return s
}

// URL is the base URL to put in xstream.Client.BaseURL.
func (s *Server) URL() string { return s.srv.URL }

// Token is the bearer token the server accepts.
func (s *Server) Token() string { return s.token }

// Client returns an xstream.Client pointed at the server with its token.
func (s *Server) Client() *xstream.Client {
	return &xstream.Client{BaseURL: s.URL(), Token: s.token, HTTP: s.srv.Client()}
}

// Close ends open streams and shuts the server down.
func (s *Server) Close() {
	s.closed.Do(func() { close(s.done) })
	s.srv.Close()
}

// Stats returns a snapshot of what the server saw.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.RulesRequests = append([]RulesRequest(nil), s.stats.RulesRequests...)
	return st
}

// StreamQueries returns the query parameters of each stream request.
func (s *Server) StreamQueries() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.streamQuery...)
}

// Rules returns the stored rules in creation order.
func (s *Server) Rules() []xstream.StoredRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]xstream.StoredRule(nil), s.rules...)
}

// newID returns the next rule id as a decimal string; ids start above 2^53
// like X's. Callers hold s.mu (or run before the server starts).
func (s *Server) newID() string {
	id := strconv.FormatUint(s.nextID, 10)
	s.nextID++
	return id
}

func (s *Server) sent() string { return s.now().UTC().Format("2006-01-02T15:04:05.000Z") }

// authorize answers 401/403 like X and reports whether the request may go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok != s.token {
		s.mu.Lock()
		s.stats.Unauthorized++
		s.mu.Unlock()
		writeProblem(w, http.StatusUnauthorized)
		return false
	}
	if s.forbidden {
		writeProblem(w, http.StatusForbidden)
		return false
	}
	return true
}

// problemBodies are error bodies as X sent them (recorded 2020, postman
// collection); 503 is not recorded and follows the 401's about:blank shape.
var problemBodies = map[int]string{
	http.StatusUnauthorized:       `{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`,
	http.StatusForbidden:          `{"client_id":"16340226","required_enrollment":"Standard Basic","registration_url":"https://developer.twitter.com/en/account","title":"Client Forbidden","detail":"This request must be made using an approved developer account that is enrolled in the requested endpoint. Learn more by visiting our documentation.","reason":"client-not-enrolled","type":"https://api.twitter.com/2/problems/client-forbidden"}`,
	http.StatusTooManyRequests:    `{"title":"ConnectionException","detail":"This stream is currently at the maximum allowed connection limit.","connection_issue":"TooManyConnections","type":"https://api.twitter.com/2/problems/streaming-connection"}`,
	http.StatusServiceUnavailable: `{"title":"Service Unavailable","type":"about:blank","status":503,"detail":"Service Unavailable"}`,
}

// writeProblem writes X's error body for status.
func writeProblem(w http.ResponseWriter, status int) {
	body, ok := problemBodies[status]
	if !ok {
		b, _ := json.Marshal(map[string]any{"title": http.StatusText(status), "type": "about:blank", "status": status, "detail": http.StatusText(status)})
		body = string(b)
	}
	writeJSONRaw(w, status, body)
}

func writeJSONRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = fmt.Fprint(w, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSONRaw(w, status, string(b))
}
