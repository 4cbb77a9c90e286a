package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrorKind tells the worker what to do with a failed task.
type ErrorKind int

const (
	// Transient means retry later (after RetryAfter when it is set): rate
	// limits, quota, 5xx, network errors, timeouts.
	Transient ErrorKind = iota + 1
	// Permanent means the task cannot succeed as specified (bad parameter,
	// forbidden, not found, oversized or non-JSON response): fail it.
	Permanent
	// AuthRevoked means the OAuth grant is gone (refresh token revoked or
	// expired, client deleted): block the whole job until it is reconnected.
	AuthRevoked
)

// String returns the kind's name as used in logs and job status.
func (k ErrorKind) String() string {
	switch k {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case AuthRevoked:
		return "auth_revoked"
	default:
		return "unknown"
	}
}

// Error is a classified source failure.
type Error struct {
	// Kind decides retry / fail / block.
	Kind ErrorKind
	// Status is the HTTP status of the failing response, 0 when there was none
	// (network error, timeout, token endpoint failure before any API call).
	Status int
	// Reason is the API's machine reason when known (Google's errors[].reason
	// such as "badRequest" or "quotaExceeded", the OAuth error code such as
	// "invalid_grant"), or a short word of ours ("timeout", "network").
	Reason string
	// RetryAfter is the server's Retry-After, 0 when absent.
	RetryAfter time.Duration
	// APICalls is how many API requests the failed call made, the failing one included (a
	// YouTube query retried after a 401, the pages a paginated fetch got before it failed).
	APICalls int
	// Err is the underlying error; for API errors its message carries the
	// API's own message, e.g. "Unknown identifier (foo) given in field
	// parameters.metrics.".
	Err error
	// redact, when set, removes credentials from the message (see Redactor.SourceError).
	redact *Redactor
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Status != 0 {
		fmt.Fprintf(&b, " http %d", e.Status)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return e.redact.String(b.String())
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of a classified error found in err's chain, or 0
// when err is nil or unclassified.
func KindOf(err error) ErrorKind {
	var se *Error
	if errors.As(err, &se) {
		return se.Kind
	}
	return 0
}

// transientReasons are Google error reasons that mean "not now" even when they
// arrive with a 403: quota and rate limits reset, the request itself is fine.
var transientReasons = map[string]bool{
	"quotaExceeded":         true,
	"rateLimitExceeded":     true,
	"userRateLimitExceeded": true,
	"dailyLimitExceeded":    true,
	"RATE_LIMIT_EXCEEDED":   true,
	"RESOURCE_EXHAUSTED":    true,
	"backendError":          true,
	"internalError":         true,
}

// KindForStatus classifies an HTTP status (with the API's reason, if any).
func KindForStatus(status int, reason string) ErrorKind {
	switch {
	case transientReasons[reason]:
		return Transient
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout:
		return Transient
	case status == http.StatusUnauthorized:
		// A 401 that survived one forced refresh: the grant still works at the
		// token endpoint (else we would have seen invalid_grant), so this is the
		// API's side of a race; let the queue retry.
		return Transient
	case status == http.StatusNotImplemented:
		return Permanent
	case status >= 500:
		return Transient
	default:
		return Permanent
	}
}

// ParseRetryAfter reads a Retry-After value, seconds or an HTTP-date.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// ClassifyTransport classifies an error that produced no HTTP response.
func ClassifyTransport(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	reason := "network"
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		reason = "timeout"
	case errors.Is(err, context.Canceled):
		reason = "canceled"
	}
	return &Error{Kind: Transient, Reason: reason, Err: err}
}

// googleErrorBody is the JSON error shape of Google APIs (v1 "errors" list and
// v2 "status"/"details").
type googleErrorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Errors  []struct {
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"errors"`
		Details []struct {
			Reason string `json:"reason"`
		} `json:"details"`
	} `json:"error"`
}

// GoogleReason picks the most specific reason from a Google error body:
// a transient one if any entry has it, else the first reason, else status.
func GoogleReason(body []byte) (reason, message string) {
	var g googleErrorBody
	if json.Unmarshal(body, &g) != nil {
		return "", ""
	}
	var reasons []string
	for _, e := range g.Error.Errors {
		reasons = append(reasons, e.Reason)
	}
	for _, d := range g.Error.Details {
		reasons = append(reasons, d.Reason)
	}
	reasons = append(reasons, g.Error.Status)
	for _, r := range reasons {
		if transientReasons[r] {
			return r, g.Error.Message
		}
	}
	for _, r := range reasons {
		if r != "" {
			return r, g.Error.Message
		}
	}
	return "", g.Error.Message
}
