package sources

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"

	"golang.org/x/oauth2"
)

// DefaultHTTPTimeout bounds one API attempt when a client's configuration leaves its timeout
// zero.
const DefaultHTTPTimeout = 30 * time.Second

// MaxReportBytes caps a captured report body. The largest report a backfill
// plans (one video, two years of days, a dozen metrics) is ~100 KB; even a
// video x day report for 500 videos stays far below this.
const MaxReportBytes = 64 << 20

// Exchange records what happened on the wire during one Query attempt: the
// generated client only hands back the decoded struct, but the task must
// store the body as Google sent it and know which token was rejected.
type Exchange struct {
	Sent   bool          // the request reached the API (not only the token endpoint)
	Token  *oauth2.Token // the access token the request carried
	Body   []byte        // the response body as received (after transport gzip)
	Stream bool          // the caller reads the body itself: capture nothing
}

type exchangeKey struct{}

// WithExchange attaches ex to ctx so GoogleTransport can fill it in.
func WithExchange(ctx context.Context, ex *Exchange) context.Context {
	return context.WithValue(ctx, exchangeKey{}, ex)
}

// GoogleTransport authorizes requests from Tokens and captures the response body for the
// Exchange found in the request's context (the Google APIs' clients all go through it).
type GoogleTransport struct {
	Tokens oauth2.TokenSource
	Base   http.RoundTripper
	API    string // names the API in errors and token refreshes
}

// RoundTrip implements http.RoundTripper.
func (t *GoogleTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.Tokens.Token()
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	tok.SetAuthHeader(r)
	ex, _ := req.Context().Value(exchangeKey{}).(*Exchange)
	if ex != nil {
		ex.Sent, ex.Token = true, tok
	}
	resp, err := t.Base.RoundTrip(r)
	if err != nil || ex == nil || ex.Stream {
		return resp, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxReportBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading %s response: %w", t.API, err)
	}
	if len(body) > MaxReportBytes {
		return nil, &Error{Kind: Permanent, Status: resp.StatusCode, Reason: "responseTooLarge",
			Err: fmt.Errorf("%s response over %d bytes", t.API, MaxReportBytes)}
	}
	if resp.StatusCode/100 == 2 {
		ex.Body = body
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// DatePattern is the Google reporting APIs' YYYY-MM-DD date pattern (reports.query's
// startDate/endDate, runReport's dateRanges).
var DatePattern = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

// ClassifyTokenError classifies a token endpoint failure: a dead grant blocks
// the job; the endpoint being down is retried.
func ClassifyTokenError(re *oauth2.RetrieveError, now time.Time, api string) *Error {
	status := 0
	var retryAfter time.Duration
	if re.Response != nil {
		status = re.Response.StatusCode
		retryAfter = ParseRetryAfter(re.Response.Header.Get("Retry-After"), now)
	}
	wrapped := fmt.Errorf("refreshing %s access token: %w", api, re)
	switch re.ErrorCode {
	case "invalid_grant":
		// Revoked by the user, expired (unused for 6 months, or 7 days for an
		// app in "testing"), or the password changed: only a human can fix it.
		return &Error{Kind: AuthRevoked, Status: status, Reason: re.ErrorCode, Err: wrapped}
	case "invalid_client", "unauthorized_client":
		// The OAuth client itself was deleted or disabled: every task of the
		// job would fail the same way, so block rather than fail them one by one.
		return &Error{Kind: AuthRevoked, Status: status, Reason: re.ErrorCode, Err: wrapped}
	}
	return &Error{Kind: KindForStatus(status, re.ErrorCode), Status: status, Reason: re.ErrorCode, RetryAfter: retryAfter, Err: wrapped}
}

// BaseTransport is rt, or when nil a clone of http.DefaultTransport that keeps 64 idle
// connections a host: many workers of one instance query the same Google host at once.
func BaseTransport(rt http.RoundTripper) http.RoundTripper {
	if rt != nil {
		return rt
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}
