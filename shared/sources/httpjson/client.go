package httpjson

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

	"github.com/pipelinekit/pipelinekit/shared/sources"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
	Policy sources.HostPolicy
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
	// Secrets reads the credentials a request names (HTTPJSONRequest.Secrets); nil refuses
	// every request that names one.
	Secrets SecretResolver
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
	// Secrets are credentials named by Secret Manager resource, which Fetch reads through
	// HTTPJSONConfig.Secrets and adds to every page's request: the request itself (a task
	// body, a stored spec) never holds a credential.
	Secrets []Credential `json:"Secrets,omitempty"`
}

// Credential names a secret and where a request carries it: a header (its value Prefix plus
// the secret, e.g. "Bearer " + token) or a query parameter.
type Credential struct {
	Header string `json:"header,omitempty"`
	Query  string `json:"query,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	// Secret is the secret version's resource name, projects/P/secrets/S/versions/V.
	Secret string `json:"secret"`
}

// SecretResolver reads a secret version's value; *secrets.Resolver is one.
type SecretResolver interface {
	Resolve(ctx context.Context, name string) (string, error)
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
	policy   sources.HostPolicy
	timeout  time.Duration
	maxBytes int64
	ua       string
	now      func() time.Time
	log      *slog.Logger
	secrets  SecretResolver
}

// NewHTTPJSON builds a fetcher whose connections are all checked by
// cfg.Policy at dial time.
func NewHTTPJSON(cfg HTTPJSONConfig) *HTTPJSON {
	h := &HTTPJSON{policy: cfg.Policy, timeout: cfg.Timeout, maxBytes: cfg.MaxBytes, ua: cfg.UserAgent, now: cfg.Now, log: cfg.Logger,
		secrets: cfg.Secrets}
	if h.timeout <= 0 {
		h.timeout = sources.DefaultHTTPTimeout
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
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: cfg.Policy.DialControl}
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
// ErrHostNotAllowed. It holds the whole result in memory: a task of any size
// should use Stream.
func (h *HTTPJSON) Fetch(ctx context.Context, req HTTPJSONRequest) (*sources.Result, error) {
	res := &sources.Result{}
	calls, err := h.Stream(ctx, req, func(p sources.Page) error {
		res.Pages = append(res.Pages, p.Body)
		res.Raw = p.Body
		res.Records = append(res.Records, p.Records...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.APICalls = calls
	return res, nil
}

// Stream follows req's pagination to the end and hands each page to fn as it
// arrives, so memory holds a page at a time whatever the number of pages; an
// error from fn stops the fetch and is returned as it is. calls is the API
// calls made. Other errors are *Error (with APICalls set); host-policy
// refusals also match ErrHostNotAllowed. No error of its own and no log line quotes the value
// of a credential req names, in any encoding, wherever it came from (the API echoes them in
// next links, redirects and error pages).
func (h *HTTPJSON) Stream(ctx context.Context, req HTTPJSONRequest, fn func(sources.Page) error) (calls int, err error) {
	var red *sources.Redactor
	var fnErr error
	defer func() {
		var se *sources.Error
		if errors.As(err, &se) {
			se.APICalls = calls
		}
		// The one place Stream's failures leave the source. fn's errors are the caller's own.
		if err != fnErr {
			err = red.SourceError(err)
		}
	}()
	if err := h.policy.CheckURL(req.URL); err != nil {
		return 0, &sources.Error{Kind: sources.Permanent, Reason: "hostNotAllowed", Err: fmt.Errorf("checking %s: %w", req.URL, err)}
	}
	pager, err := newPager(req)
	if err != nil {
		return 0, &sources.Error{Kind: sources.Permanent, Reason: "invalidRequest", Err: err}
	}
	creds, err := h.credentials(ctx, req.Secrets)
	if err != nil {
		return 0, err
	}
	values := make([]string, len(creds))
	for i, c := range creds {
		values[i] = c.value
	}
	red = sources.NewRedactor(values...)
	maxPages := req.Pagination.MaxPages
	if maxPages <= 0 {
		maxPages = DefaultMaxPages
	}
	next := pager.first()
	for n := 1; next != ""; n++ {
		if n > maxPages {
			return calls, &sources.Error{Kind: sources.Permanent, Reason: "tooManyPages", Err: fmt.Errorf("fetching %s: more than %d pages", req.URL, maxPages)}
		}
		if err := h.policy.CheckURL(next); err != nil {
			return calls, &sources.Error{Kind: sources.Permanent, Reason: "hostNotAllowed", Err: fmt.Errorf("following page %d: %w", n, err)}
		}
		body, err := h.get(ctx, next, req.Headers, creds, red)
		calls++
		if err != nil {
			return calls, err
		}
		doc, err := decodeJSON(body)
		if err != nil {
			return calls, &sources.Error{Kind: sources.Permanent, Status: http.StatusOK, Reason: "notJSON", Err: fmt.Errorf("decoding page %d of %s: %w", n, req.URL, err)}
		}
		records, err := extractRecords(doc, req.RecordsPath)
		if err != nil {
			return calls, &sources.Error{Kind: sources.Permanent, Status: http.StatusOK, Reason: "badRecords", Err: fmt.Errorf("reading records of page %d of %s: %w", n, req.URL, err)}
		}
		h.log.DebugContext(ctx, "fetched json page", "url", red.String(next), "page", n, "records", len(records), "bytes", len(body))
		if next, err = pager.next(next, doc, len(records)); err != nil {
			return calls, &sources.Error{Kind: sources.Permanent, Reason: "badPagination", Err: fmt.Errorf("paging %s after page %d: %w", req.URL, n, err)}
		}
		doc = nil
		if err := fn(sources.Page{N: n, Body: body, Records: records}); err != nil {
			fnErr = err
			return calls, err
		}
	}
	return calls, nil
}

// resolved is a credential with its value, added to each request by get.
type resolved struct {
	Credential
	value string
}

// credentials reads the secrets a request names. A secret that does not exist or may not be
// read is a Permanent failure (the spec names the wrong one); anything else may pass later.
func (h *HTTPJSON) credentials(ctx context.Context, refs []Credential) ([]resolved, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	if h.secrets == nil {
		return nil, &sources.Error{Kind: sources.Permanent, Reason: "noSecretResolver", Err: errors.New("the request names secrets and this fetcher has no Secret Manager access")}
	}
	out := make([]resolved, 0, len(refs))
	for _, c := range refs {
		v, err := h.secrets.Resolve(ctx, c.Secret)
		if err != nil {
			kind := sources.Transient
			switch status.Code(err) {
			case codes.NotFound, codes.PermissionDenied, codes.InvalidArgument, codes.FailedPrecondition:
				kind = sources.Permanent
			}
			return nil, &sources.Error{Kind: kind, Reason: "secretUnavailable", Err: fmt.Errorf("reading credential %s: %w", c.Secret, err)}
		}
		out = append(out, resolved{Credential: c, value: v})
	}
	return out, nil
}

// get performs one GET and returns the body of a 2xx response. Credentials are added to the
// request only, but u (a next link) may hold one the API echoed: Stream redacts the errors, and
// red redacts an error body here, before it is cut short (which could leave part of one).
func (h *HTTPJSON) get(ctx context.Context, u string, headers map[string]string, creds []resolved, red *sources.Redactor) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &sources.Error{Kind: sources.Permanent, Reason: "invalidRequest", Err: fmt.Errorf("building request for %s: %w", u, err)}
	}
	r.Header.Set("Accept", "application/json")
	r.Header.Set("User-Agent", h.ua)
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	if len(creds) > 0 {
		q := r.URL.Query()
		for _, c := range creds {
			if c.Header != "" {
				r.Header.Set(c.Header, c.Prefix+c.value)
			} else {
				q.Set(c.Query, c.value)
			}
		}
		r.URL.RawQuery = q.Encode()
	}
	resp, err := h.client.Do(r)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = u // the request's URL may hold a credential
		}
		if errors.Is(err, sources.ErrHostNotAllowed) {
			return nil, &sources.Error{Kind: sources.Permanent, Reason: "hostNotAllowed", Err: fmt.Errorf("requesting %s: %w", u, err)}
		}
		se := sources.ClassifyTransport(err)
		se.Err = fmt.Errorf("requesting %s: %w", u, err)
		return nil, se
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, h.maxBytes+1))
	if err != nil {
		se := sources.ClassifyTransport(err)
		se.Status = resp.StatusCode
		se.Err = fmt.Errorf("reading response of %s: %w", u, err)
		return nil, se
	}
	if resp.StatusCode/100 != 2 {
		reason, msg := sources.GoogleReason(body)
		if msg == "" {
			msg = snippet([]byte(red.String(string(body[:min(len(body), sources.MaxRedactBody)]))))
		}
		return nil, &sources.Error{
			Kind:       sources.KindForStatus(resp.StatusCode, reason),
			Status:     resp.StatusCode,
			Reason:     reason,
			RetryAfter: sources.ParseRetryAfter(resp.Header.Get("Retry-After"), h.now()),
			Err:        fmt.Errorf("requesting %s: http %d: %s", u, resp.StatusCode, msg),
		}
	}
	if int64(len(body)) > h.maxBytes {
		return nil, &sources.Error{Kind: sources.Permanent, Status: resp.StatusCode, Reason: "responseTooLarge",
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
