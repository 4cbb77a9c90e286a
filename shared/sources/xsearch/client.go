package xsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// X API v2 search (https://docs.x.com/x-api/x-api-v2/tweets/search-tweets): recent search
// covers the last 7 days, full-archive search everything back to 2006
// (https://docs.x.com/es/x-api/posts/search/introduction.md). Both take query, start_time,
// end_time, max_results, next_token and the fields/expansions parameters, and answer
// {"data":[...],"includes":{...},"meta":{"next_token":...},"errors":[...]}.
const (
	XSearchRecent = "recent"
	XSearchAll    = "all"
	// DefaultXBaseURL is X's API host.
	DefaultXBaseURL = "https://api.x.com/"
)

// X's per-request bounds: max_results is 10..100 for recent search and 10..500 for
// full-archive search; a query is at most 512 characters (recent) or 1024 (full archive)
// (searchRecent reference, https://pub.dev/documentation/twitter_api_v2/latest/twitter_api_v2/TweetsService/searchRecent.html,
// quoting X's reference; full archive: https://rdrr.io/github/sdaume/twittrcademic/man/search_tweets.html).
const (
	XMinResults       = 10
	XMaxResultsRecent = 100
	XMaxResultsAll    = 500
	XMaxQueryRecent   = 512
	XMaxQueryAll      = 1024
)

// XMaxResults is the largest max_results endpoint accepts.
func XMaxResults(endpoint string) int {
	if endpoint == XSearchAll {
		return XMaxResultsAll
	}
	return XMaxResultsRecent
}

// XMaxQuery is the longest query endpoint accepts, in characters.
func XMaxQuery(endpoint string) int {
	if endpoint == XSearchAll {
		return XMaxQueryAll
	}
	return XMaxQueryRecent
}

// The fields the stream asks for (xstream's default stream parameters), so a searched tweet
// carries what event.ParseX reads from a streamed one: its author's username (expansion
// author_id, user.fields username), created_at, lang, entities and references.
const (
	xTweetFields = "created_at,lang,author_id,entities,referenced_tweets,in_reply_to_user_id,conversation_id"
	xExpansions  = "author_id"
	xUserFields  = "username"
)

// xMaxPageBytes bounds one search page's body: 500 tweets with their authors and entities
// come to well under 2 MiB; a larger body is not X's answer and fails the task.
const xMaxPageBytes = 8 << 20

// XSearchMaxWait is the longest a task waits in-process for X's rate-limit window to reset;
// a later reset ends the task as Transient with RetryAfter at the reset, so the queue retries
// then and no instance sits idle (X's windows are 15 minutes:
// https://docs.x.com/fundamentals/rate-limits).
const XSearchMaxWait = 10 * time.Second

// xMaxWaits bounds the in-process waits of one task, so a server that keeps answering 429
// with a near reset cannot hold the task forever.
const xMaxWaits = 3

// XSearchQuery is one x_search task's request: one search over [StartTime, EndTime).
type XSearchQuery struct {
	Endpoint   string `json:"endpoint"`
	Query      string `json:"query"`
	StartTime  string `json:"start_time"` // RFC 3339
	EndTime    string `json:"end_time"`
	MaxResults int    `json:"max_results"`
}

// XSearchConfig configures an XSearch client.
type XSearchConfig struct {
	// BaseURL overrides DefaultXBaseURL (a local server).
	BaseURL string
	// Token is the app's bearer token (OAuth 2.0 App-Only).
	Token string
	// HTTPTimeout bounds one request; 0 means 30s.
	HTTPTimeout time.Duration
	// Transport overrides http.DefaultTransport.
	Transport http.RoundTripper
	// Now and Sleep are the clock; nil means the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxWait overrides XSearchMaxWait.
	MaxWait time.Duration
	Logger  *slog.Logger
}

// XSearch is an X API v2 search client.
type XSearch struct {
	cfg  XSearchConfig
	base *url.URL
	hc   *http.Client
}

// NewXSearch returns a client of cfg.
func NewXSearch(cfg XSearchConfig) (*XSearch, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultXBaseURL
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing the X API base URL: %w", err)
	}
	if cfg.HTTPTimeout == 0 {
		cfg.HTTPTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = XSearchMaxWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &XSearch{cfg: cfg, base: base, hc: &http.Client{Timeout: cfg.HTTPTimeout, Transport: cfg.Transport}}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// XPage is one search page: its body, its tweets as stream-shaped messages and X's rate-limit
// report after it.
type XPage struct {
	sources.Page
	// Messages are the page's tweets, each as the filtered stream delivers one:
	// {"data":tweet,"includes":{"users":[author]}}, so event.ParseX reads it as a streamed tweet.
	Messages [][]byte
	Quota    *sources.Quota
}

// xRate is X's rate-limit report of one response.
type xRate struct {
	remaining int64
	known     bool
	reset     time.Time
}

func readXRate(h http.Header) xRate {
	var r xRate
	if v, err := strconv.ParseInt(strings.TrimSpace(h.Get("x-rate-limit-remaining")), 10, 64); err == nil && v >= 0 {
		r.remaining, r.known = v, true
	}
	// x-rate-limit-reset is a Unix time in seconds (https://docs.x.com/fundamentals/rate-limits).
	if v, err := strconv.ParseInt(strings.TrimSpace(h.Get("x-rate-limit-reset")), 10, 64); err == nil && v > 0 && v < 1<<40 {
		r.reset = time.Unix(v, 0).UTC()
	}
	return r
}

// Stream runs q page by page (next_token), handing each page to fn. X's rate-limit headers pace
// it: when the window is spent (remaining 0 with more pages to read, or a 429) and resets
// within MaxWait, it waits; otherwise it returns a Transient *Error whose RetryAfter is the
// time to the reset. calls is the requests made, also on failure.
func (x *XSearch) Stream(ctx context.Context, q XSearchQuery, fn func(XPage) error) (calls int, err error) {
	next, waits, n := "", 0, 0
	var used int64
	for {
		body, rate, status, hdr, err := x.get(ctx, q, next)
		if status != 0 {
			calls++
		}
		if err != nil {
			return calls, withCalls(err, calls)
		}
		if status == http.StatusTooManyRequests {
			// X answers 429 when the window is spent (https://docs.x.com/fundamentals/rate-limits).
			wait := x.untilReset(rate, hdr)
			if wait > x.cfg.MaxWait || waits >= xMaxWaits {
				return calls, &sources.Error{Kind: sources.Transient, Status: status, Reason: "rateLimited", RetryAfter: max(wait, time.Second),
					APICalls: calls, Err: fmt.Errorf("X search rate limit reached; the window resets at %s", x.resetAt(rate, wait).Format(time.RFC3339))}
			}
			waits++
			if err := x.cfg.Sleep(ctx, wait); err != nil {
				return calls, &sources.Error{Kind: sources.Transient, Reason: "canceled", APICalls: calls, Err: err}
			}
			continue
		}
		if status != http.StatusOK {
			return calls, xStatusError(status, body, calls, x.untilReset(rate, hdr))
		}
		resp, err := DecodeXSearchPage(body)
		if err != nil {
			return calls, &sources.Error{Kind: sources.Permanent, Status: status, Reason: "badResponse", APICalls: calls, Err: err}
		}
		used++
		page := XPage{Page: sources.Page{N: n, Body: body}, Messages: resp.Messages}
		for _, m := range resp.Messages {
			var rec map[string]any
			if err := json.Unmarshal(m, &rec); err == nil {
				page.Records = append(page.Records, rec)
			}
		}
		if rate.known {
			page.Quota = &sources.Quota{Figures: []sources.NamedFigure{{Name: "requests_per_15m", Consumed: used, Remaining: rate.remaining}}, ResetAt: rate.reset}
		}
		n++
		if err := fn(page); err != nil {
			return calls, err
		}
		if resp.NextToken == "" {
			return calls, nil
		}
		next = resp.NextToken
		if rate.known && rate.remaining == 0 {
			// The window is spent: asking now would only be answered 429.
			wait := x.untilReset(rate, nil)
			if wait > x.cfg.MaxWait || waits >= xMaxWaits {
				return calls, &sources.Error{Kind: sources.Transient, Status: http.StatusTooManyRequests, Reason: "rateLimited", RetryAfter: max(wait, time.Second),
					APICalls: calls, Err: fmt.Errorf("X search rate limit spent; the window resets at %s", x.resetAt(rate, wait).Format(time.RFC3339))}
			}
			waits++
			if err := x.cfg.Sleep(ctx, wait); err != nil {
				return calls, &sources.Error{Kind: sources.Transient, Reason: "canceled", APICalls: calls, Err: err}
			}
		}
	}
}

// untilReset is how long until the window resets: x-rate-limit-reset, else Retry-After, else
// X's whole 15-minute window.
func (x *XSearch) untilReset(r xRate, h http.Header) time.Duration {
	now := x.cfg.Now()
	if !r.reset.IsZero() {
		return max(r.reset.Sub(now), 0)
	}
	if h != nil {
		if d := sources.ParseRetryAfter(h.Get("Retry-After"), now); d > 0 {
			return d
		}
	}
	return 15 * time.Minute
}

func (x *XSearch) resetAt(r xRate, wait time.Duration) time.Time {
	if !r.reset.IsZero() {
		return r.reset
	}
	return x.cfg.Now().Add(wait).UTC()
}

func withCalls(err error, calls int) error {
	var se *sources.Error
	if errors.As(err, &se) {
		se.APICalls = calls
		return se
	}
	return err
}

// get makes one search request; status is 0 when no response came.
func (x *XSearch) get(ctx context.Context, q XSearchQuery, next string) (body []byte, rate xRate, status int, h http.Header, err error) {
	path := "2/tweets/search/recent"
	if q.Endpoint == XSearchAll {
		path = "2/tweets/search/all"
	}
	u := x.base.JoinPath(path)
	v := url.Values{
		"query":        {q.Query},
		"start_time":   {q.StartTime},
		"end_time":     {q.EndTime},
		"max_results":  {strconv.Itoa(q.MaxResults)},
		"tweet.fields": {xTweetFields},
		"expansions":   {xExpansions},
		"user.fields":  {xUserFields},
	}
	if next != "" {
		v.Set("next_token", next)
	}
	u.RawQuery = v.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, rate, 0, nil, &sources.Error{Kind: sources.Permanent, Reason: "badRequest", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+x.cfg.Token)
	resp, err := x.hc.Do(req)
	if err != nil {
		// The URL carries no secret; the token is in a header, never in an error.
		return nil, rate, 0, nil, sources.ClassifyTransport(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, xMaxPageBytes+1))
	if err != nil {
		return nil, rate, resp.StatusCode, resp.Header, &sources.Error{Kind: sources.Transient, Status: resp.StatusCode, Reason: "network", Err: fmt.Errorf("reading the X search response: %w", err)}
	}
	if len(body) > xMaxPageBytes {
		return nil, rate, resp.StatusCode, resp.Header, &sources.Error{Kind: sources.Permanent, Status: resp.StatusCode, Reason: "responseTooLarge",
			Err: fmt.Errorf("X search page over %d bytes", xMaxPageBytes)}
	}
	return body, readXRate(resp.Header), resp.StatusCode, resp.Header, nil
}

// xStatusError classifies a non-200, non-429 answer: a bearer token X refuses (401) blocks the
// job until it is replaced; 400 and 403 fail the task; 5xx is retried.
func xStatusError(status int, body []byte, calls int, retry time.Duration) *sources.Error {
	msg := xErrorMessage(body)
	e := &sources.Error{Status: status, APICalls: calls, Err: fmt.Errorf("X search answered %d: %s", status, msg)}
	switch {
	case status == http.StatusUnauthorized:
		e.Kind, e.Reason = sources.AuthRevoked, "unauthorized"
	case status >= 500:
		e.Kind, e.Reason = sources.Transient, "serverError"
		if status == http.StatusServiceUnavailable && retry < 15*time.Minute {
			e.RetryAfter = retry
		}
	default:
		e.Kind, e.Reason = sources.Permanent, "badRequest"
	}
	return e
}

// xErrorMessage is the message of X's error body (problem JSON "detail"/"title", or
// errors[0].message), bounded.
func xErrorMessage(body []byte) string {
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	msg := ""
	if json.Unmarshal(body, &p) == nil {
		switch {
		case p.Detail != "":
			msg = p.Detail
		case p.Title != "":
			msg = p.Title
		case len(p.Errors) > 0:
			msg = p.Errors[0].Message
		}
	}
	if msg == "" {
		msg = "no error message"
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// XSearchPage is a decoded search page.
type XSearchPage struct {
	// Messages are the tweets in stream shape (see XPage.Messages).
	Messages  [][]byte
	NextToken string
}

// xMaxNextToken bounds the next_token X returns; a longer one is not X's.
const xMaxNextToken = 1024

// DecodeXSearchPage decodes one search page: each tweet of data becomes a stream-shaped
// message carrying its author from includes.users. A tweet without a string id, or a page
// that is not X's shape, is an error.
func DecodeXSearchPage(body []byte) (*XSearchPage, error) {
	var raw struct {
		Data     []json.RawMessage `json:"data"`
		Includes struct {
			Users []json.RawMessage `json:"users"`
		} `json:"includes"`
		Meta struct {
			NextToken string `json:"next_token"`
		} `json:"meta"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decoding the X search page: %w", err)
	}
	if len(raw.Meta.NextToken) > xMaxNextToken {
		return nil, fmt.Errorf("decoding the X search page: next_token of %d bytes, over %d", len(raw.Meta.NextToken), xMaxNextToken)
	}
	users := map[string]json.RawMessage{}
	for _, u := range raw.Includes.Users {
		var id struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(u, &id) == nil && id.ID != "" {
			users[id.ID] = u
		}
	}
	out := &XSearchPage{NextToken: raw.Meta.NextToken}
	for i, t := range raw.Data {
		var head struct {
			ID       string `json:"id"`
			AuthorID string `json:"author_id"`
		}
		if err := json.Unmarshal(t, &head); err != nil || head.ID == "" {
			return nil, fmt.Errorf("decoding the X search page: data[%d] has no string id", i)
		}
		msg := map[string]any{"data": t}
		if u, ok := users[head.AuthorID]; ok {
			msg["includes"] = map[string]any{"users": []json.RawMessage{u}}
		}
		b, err := json.Marshal(msg)
		if err != nil {
			return nil, fmt.Errorf("decoding the X search page: data[%d]: %w", i, err)
		}
		out.Messages = append(out.Messages, b)
	}
	return out, nil
}
