package xstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// APIError is an error response from the X API, with X's problem fields
// (https://api.twitter.com/2/problems/...) kept so callers can tell a bad
// token from a missing enrollment or a connection limit.
type APIError struct {
	// StatusCode is the HTTP status, e.g. 401, 403, 429.
	StatusCode int
	// Title is X's short problem title, e.g. "Client Forbidden".
	Title string `json:"title"`
	// Detail is X's human-readable explanation.
	Detail string `json:"detail"`
	// Type is the problem URI, e.g. "https://api.twitter.com/2/problems/client-forbidden".
	Type string `json:"type"`
	// Reason is set on some problems, e.g. "client-not-enrolled".
	Reason string `json:"reason,omitempty"`
	// ConnectionIssue is set on stream connection problems, e.g. "TooManyConnections".
	ConnectionIssue string `json:"connection_issue,omitempty"`
	// Errors holds per-parameter errors of an "Invalid Request" (400).
	Errors []ErrorDetail `json:"errors,omitempty"`
	// Body is the raw response body, kept for logs.
	Body []byte `json:"-"`
}

// ErrorDetail is one entry of an error response's "errors" array.
type ErrorDetail struct {
	// Message is set on invalid-request entries, e.g. "field is required".
	Message string `json:"message,omitempty"`
	// Parameters names the offending request parameters, e.g. {"add.value": []}.
	Parameters map[string][]string `json:"parameters,omitempty"`
	// Title is set on problem entries, e.g. "operational-disconnect".
	Title string `json:"title,omitempty"`
	// Detail is the problem's explanation.
	Detail string `json:"detail,omitempty"`
	// Type is the problem URI.
	Type string `json:"type,omitempty"`
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "x api: http %d", e.StatusCode)
	if e.Title != "" {
		fmt.Fprintf(&b, " %s", e.Title)
	}
	if e.ConnectionIssue != "" {
		fmt.Fprintf(&b, " (%s)", e.ConnectionIssue)
	} else if e.Reason != "" {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	for _, d := range e.Errors {
		for p := range d.Parameters {
			fmt.Fprintf(&b, "; %s: %s", p, d.Message)
		}
	}
	return b.String()
}

// Permanent reports whether retrying the same request cannot succeed: a bad
// token (401), a client not enrolled for the endpoint (403), a malformed
// request (400) or a wrong URL (404). Everything else may clear up.
func (e *APIError) Permanent() bool {
	switch e.StatusCode {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}

// IsPermanent reports whether err is, or wraps, an APIError that retrying
// cannot fix.
func IsPermanent(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Permanent()
}

// newAPIError builds an APIError from a non-2xx response body. A body that is
// not X's JSON shape still yields an error with the status and raw body.
func newAPIError(status int, body []byte) *APIError {
	e := &APIError{}
	if err := json.Unmarshal(body, e); err != nil {
		e = &APIError{Title: http.StatusText(status), Detail: strings.TrimSpace(string(truncate(body, 512)))}
	}
	e.StatusCode = status
	e.Body = body
	return e
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
