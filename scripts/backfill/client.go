package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// requestTimeout bounds one HTTP call, so a hung connection costs one poll, not the watch.
const requestTimeout = time.Minute

// client speaks the Backfill function's HTTP API.
type client struct {
	base string
	http *http.Client
}

// apiError is a response the server refused: a 4xx or 5xx with its message.
type apiError struct {
	Method, Path string
	Code         int
	Message      string
	// Field is the spec field a 400 blames, e.g. youtube_analytics.end.
	Field string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Code, http.StatusText(e.Code))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	if e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden {
		msg += " (is the identity allowed to invoke the function: roles/run.invoker?)"
	}
	return msg
}

// transient reports whether err is worth retrying: the network, a 5xx or a 429. A 4xx, or
// having no credentials at all, would fail the same way again.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, errTimeout) {
		return false
	}
	var auth *authError
	if errors.As(err, &auth) {
		return false
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code >= 500 || ae.Code == http.StatusTooManyRequests
	}
	return true
}

// startResult is what POST /backfills answers for a real (not dry) run.
type startResult struct {
	JobID        string `json:"job_id"`
	Created      bool   `json:"created"`
	PlannedTasks int    `json:"planned_tasks"`
	APICalls     int    `json:"api_calls"`
	StatusURL    string `json:"status_url"`
	State        string `json:"state"`
}

// retryResult is what POST /backfills/{id}:retry answers.
type retryResult struct {
	JobID     string `json:"job_id"`
	Retried   int    `json:"retried"`
	StatusURL string `json:"status_url"`
	raw       json.RawMessage
}

// statusResult is a status with the bytes it was decoded from, so --json prints exactly what
// the server said.
type statusResult struct {
	backfill.Status
	raw json.RawMessage
}

// create POSTs a spec and returns the raw answer, which is a startResult or, for a dry run, a plan.
func (c *client) create(ctx context.Context, spec []byte) ([]byte, error) {
	return c.do(ctx, http.MethodPost, "/backfills", spec)
}

func (c *client) status(ctx context.Context, job string) (*statusResult, error) {
	return c.statusCall(ctx, http.MethodGet, jobPath(job, ""))
}

func (c *client) cancel(ctx context.Context, job string) (*statusResult, error) {
	return c.statusCall(ctx, http.MethodPost, jobPath(job, ":cancel"))
}

func (c *client) retry(ctx context.Context, job string) (*retryResult, error) {
	body, err := c.do(ctx, http.MethodPost, jobPath(job, ":retry"), nil)
	if err != nil {
		return nil, err
	}
	r := retryResult{raw: body}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding the retry answer for job %s: %w", job, err)
	}
	return &r, nil
}

func (c *client) statusCall(ctx context.Context, method, path string) (*statusResult, error) {
	body, err := c.do(ctx, method, path, nil)
	if err != nil {
		return nil, err
	}
	s := &statusResult{raw: body}
	if err := json.Unmarshal(body, &s.Status); err != nil {
		return nil, fmt.Errorf("decoding the status from %s %s: %w", method, path, err)
	}
	return s, nil
}

func jobPath(job, verb string) string {
	return "/backfills/" + url.PathEscape(job) + verb
}

// do makes one call and returns the body of a 2xx, or an *apiError.
func (c *client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.DeadlineExceeded) {
			return nil, cause
		}
		return nil, fmt.Errorf("calling %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, newAPIError(method, path, resp.StatusCode, data)
	}
	return bytes.TrimSpace(data), nil
}

// newAPIError reads the server's {"error","field"} body, or keeps a short plain-text body
// (a 413 from a front end is not JSON).
func newAPIError(method, path string, code int, body []byte) *apiError {
	e := &apiError{Method: method, Path: path, Code: code}
	var msg struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	if json.Unmarshal(body, &msg) == nil && msg.Error != "" {
		e.Message, e.Field = msg.Error, msg.Field
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	e.Message = text
	return e
}
