package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// HTTPJSON limits used when the config or request leaves them zero.
const (
	// DefaultMaxBytes caps one response body.
	DefaultMaxBytes = 10 << 20
	// DefaultMaxPages caps the requests of one Fetch.
	DefaultMaxPages = 1000
	// maxRedirects matches net/http's default.
	maxRedirects = 10
)

// Pagination types of HTTPJSONRequest.Pagination.Type.
const (
	PaginationNone     = ""
	PaginationNextLink = "next_link"
	PaginationCursor   = "cursor"
	PaginationPage     = "page"
)

// HTTPJSONConfig configures an HTTPJSON fetcher.
type HTTPJSONConfig struct {
	// Policy is the SSRF guard; its zero value refuses every host.
	Policy HostPolicy
	// Timeout bounds each request (per page); 0 means DefaultHTTPTimeout.
	Timeout time.Duration
	// MaxBytes caps each response body; 0 means DefaultMaxBytes.
	MaxBytes int64
	// UserAgent is sent on every request; "" means "pipelinekit-backfill".
	UserAgent string
	// Now is the clock for Retry-After dates; nil means time.Now.
	Now func() time.Time
	// Logger receives a debug line per page; nil means slog.Default().
	Logger *slog.Logger
}

// HTTPJSONRequest is one backfill task against a plain JSON API.
type HTTPJSONRequest struct {
	// URL is the first page's URL.
	URL string
	// Headers are sent on every page (e.g. Authorization).
	Headers map[string]string
	// RecordsPath is the dot path to the records array, e.g. "data.items";
	// "" means the body itself is the array.
	RecordsPath string
	// Pagination says how to find the next page.
	Pagination Pagination
}

// Pagination describes how an API links its pages.
type Pagination struct {
	// Type is "" (one page), "next_link", "cursor" or "page".
	Type string
	// NextPath (next_link) is the dot path to the next page's URL, absolute
	// or relative to the current page; missing, null or "" ends the fetch.
	NextPath string
	// CursorPath (cursor) is the dot path to the next cursor; CursorParam is
	// the query parameter it is sent back in. Missing, null or "" ends.
	CursorPath, CursorParam string
	// PageParam (page) is the page-number query parameter, starting at
	// StartPage (0 means 1); a page with no records ends the fetch.
	PageParam string
	StartPage int
	// MaxPages caps the requests of this fetch (0 means DefaultMaxPages);
	// needing more is a Permanent error, never a silent truncation.
	MaxPages int
}

// HTTPJSON fetches records from plain JSON APIs. It is safe for concurrent
// use.
type HTTPJSON struct {
	client   *http.Client
	policy   HostPolicy
	timeout  time.Duration
	maxBytes int64
	ua       string
	now      func() time.Time
	log      *slog.Logger
}

// NewHTTPJSON builds a fetcher whose connections are all checked by
// cfg.Policy at dial time.
func NewHTTPJSON(cfg HTTPJSONConfig) *HTTPJSON {
	h := &HTTPJSON{policy: cfg.Policy, timeout: cfg.Timeout, maxBytes: cfg.MaxBytes, ua: cfg.UserAgent, now: cfg.Now, log: cfg.Logger}
	if h.timeout <= 0 {
		h.timeout = DefaultHTTPTimeout
	}
	if h.maxBytes <= 0 {
		h.maxBytes = DefaultMaxBytes
	}
	if h.ua == "" {
		h.ua = "pipelinekit-backfill"
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: cfg.Policy.dialControl}
	transport := &http.Transport{
		// No proxy: a proxy would be the address dialled and checked, not the
		// API host, which would defeat the dial-time guard.
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	h.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return cfg.Policy.CheckURL(req.URL.String())
		},
	}
	return h
}

// Fetch follows req's pagination to the end and returns every record and
// every page body. Errors are *Error; host-policy refusals also match
// ErrHostNotAllowed.
func (h *HTTPJSON) Fetch(ctx context.Context, req HTTPJSONRequest) (res *Result, err error) {
	calls := 0
	defer func() {
		var se *Error
		if errors.As(err, &se) {
			se.APICalls = calls
		}
	}()
	if err := h.policy.CheckURL(req.URL); err != nil {
		return nil, &Error{Kind: Permanent, Reason: "hostNotAllowed", Err: fmt.Errorf("checking %s: %w", req.URL, err)}
	}
	pager, err := newPager(req)
	if err != nil {
		return nil, &Error{Kind: Permanent, Reason: "invalidRequest", Err: err}
	}
	maxPages := req.Pagination.MaxPages
	if maxPages <= 0 {
		maxPages = DefaultMaxPages
	}
	res = &Result{}
	next := pager.first()
	for n := 1; next != ""; n++ {
		if n > maxPages {
			return nil, &Error{Kind: Permanent, Reason: "tooManyPages", Err: fmt.Errorf("fetching %s: more than %d pages", req.URL, maxPages)}
		}
		if err := h.policy.CheckURL(next); err != nil {
			return nil, &Error{Kind: Permanent, Reason: "hostNotAllowed", Err: fmt.Errorf("following page %d: %w", n, err)}
		}
		body, err := h.get(ctx, next, req.Headers)
		res.APICalls++
		calls = res.APICalls
		if err != nil {
			return nil, err
		}
		res.Pages = append(res.Pages, body)
		res.Raw = body
		doc, err := decodeJSON(body)
		if err != nil {
			return nil, &Error{Kind: Permanent, Status: http.StatusOK, Reason: "notJSON", Err: fmt.Errorf("decoding page %d of %s: %w", n, req.URL, err)}
		}
		records, err := extractRecords(doc, req.RecordsPath)
		if err != nil {
			return nil, &Error{Kind: Permanent, Status: http.StatusOK, Reason: "badRecords", Err: fmt.Errorf("reading records of page %d of %s: %w", n, req.URL, err)}
		}
		res.Records = append(res.Records, records...)
		h.log.DebugContext(ctx, "fetched json page", "url", next, "page", n, "records", len(records), "bytes", len(body))
		next, err = pager.next(next, doc, len(records))
		if err != nil {
			return nil, &Error{Kind: Permanent, Reason: "badPagination", Err: fmt.Errorf("paging %s after page %d: %w", req.URL, n, err)}
		}
	}
	return res, nil
}

// get performs one GET and returns the body of a 2xx response.
func (h *HTTPJSON) get(ctx context.Context, u string, headers map[string]string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &Error{Kind: Permanent, Reason: "invalidRequest", Err: fmt.Errorf("building request for %s: %w", u, err)}
	}
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", h.ua)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	resp, err := h.client.Do(r)
	if err != nil {
		if errors.Is(err, ErrHostNotAllowed) {
			return nil, &Error{Kind: Permanent, Reason: "hostNotAllowed", Err: fmt.Errorf("requesting %s: %w", u, err)}
		}
		se := classifyTransport(err)
		se.Err = fmt.Errorf("requesting %s: %w", u, err)
		return nil, se
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.maxBytes+1))
	if err != nil {
		se := classifyTransport(err)
		se.Status = resp.StatusCode
		se.Err = fmt.Errorf("reading response of %s: %w", u, err)
		return nil, se
	}
	if resp.StatusCode/100 != 2 {
		reason, msg := googleReason(body)
		if msg == "" {
			msg = snippet(body)
		}
		return nil, &Error{
			Kind:       kindForStatus(resp.StatusCode, reason),
			Status:     resp.StatusCode,
			Reason:     reason,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), h.now()),
			Err:        fmt.Errorf("requesting %s: http %d: %s", u, resp.StatusCode, msg),
		}
	}
	if int64(len(body)) > h.maxBytes {
		return nil, &Error{Kind: Permanent, Status: resp.StatusCode, Reason: "responseTooLarge",
			Err: fmt.Errorf("reading %s: response over %d bytes", u, h.maxBytes)}
	}
	return body, nil
}

// snippet shortens a body for an error message.
func snippet(b []byte) string {
	const n = 256
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}

// decodeJSON decodes exactly one JSON value, numbers as json.Number.
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("not JSON: data after the first value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not JSON: data after the first value")
	}
	return v, nil
}

// setQuery returns u with param set to value.
func setQuery(u, param, value string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", u, err)
	}
	q := pu.Query()
	q.Set(param, value)
	pu.RawQuery = q.Encode()
	return pu.String(), nil
}
