package tasksemulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
)

// Service headers, spelled as the HTTP target reference spells them.
const (
	hQueueName        = "X-CloudTasks-QueueName"
	hTaskName         = "X-CloudTasks-TaskName"
	hRetryCount       = "X-CloudTasks-TaskRetryCount"
	hExecutionCount   = "X-CloudTasks-TaskExecutionCount"
	hETA              = "X-CloudTasks-TaskETA"
	hPreviousResponse = "X-CloudTasks-TaskPreviousResponse"
	hRetryReason      = "X-CloudTasks-TaskRetryReason"
	userAgent         = "Google-Cloud-Tasks"
)

// attemptPlan is everything an attempt needs, computed under the lock.
type attemptPlan struct {
	q            *queue
	t            *task
	attempt      *cloudtaskspb.Attempt
	forced       bool
	method       string
	url          string
	header       http.Header // keys as sent (not canonicalised)
	body         []byte
	deadline     time.Time
	dispatchTime time.Time
	auth         *authSpec
}

// authSpec says which token to mint for the Authorization header.
type authSpec struct {
	oidc     bool
	email    string
	audience string
	scope    string
}

// attemptResult is what came back from the target.
type attemptResult struct {
	status   int // 0 when no response was received
	header   http.Header
	err      error
	timedOut bool
}

func (r attemptResult) errText() string {
	switch {
	case r.timedOut:
		return "dispatch deadline exceeded"
	case r.err != nil:
		return r.err.Error()
	}
	return ""
}

// planLocked builds the HTTP request for an attempt: the task's request with
// the queue's http_target overrides, the service headers and the dropped
// headers the reference lists. Callers hold s.mu.
func (s *Server) planLocked(q *queue, t *task, retryCount int, now time.Time) *attemptPlan {
	hr := t.pb.GetHttpRequest()
	method := hr.GetHttpMethod()
	target := hr.GetUrl()
	h := http.Header{}
	for k, v := range hr.GetHeaders() {
		h[k] = []string{v}
	}
	var auth *authSpec
	switch {
	case hr.GetOidcToken() != nil:
		auth = &authSpec{oidc: true, email: hr.GetOidcToken().GetServiceAccountEmail(), audience: hr.GetOidcToken().GetAudience()}
	case hr.GetOauthToken() != nil:
		auth = &authSpec{email: hr.GetOauthToken().GetServiceAccountEmail(), scope: hr.GetOauthToken().GetScope()}
	}
	if ht := q.pb.GetHttpTarget(); ht != nil {
		if ht.GetHttpMethod() != cloudtaskspb.HttpMethod_HTTP_METHOD_UNSPECIFIED {
			method = ht.GetHttpMethod()
		}
		for _, o := range ht.GetHeaderOverrides() {
			for k := range h {
				if strings.EqualFold(k, o.GetHeader().GetKey()) {
					delete(h, k)
				}
			}
			h[o.GetHeader().GetKey()] = []string{o.GetHeader().GetValue()}
		}
		if uo := ht.GetUriOverride(); uo != nil {
			target = overrideURI(target, uo)
		}
		// A queue-level token overrides the task's Authorization (HttpTarget reference).
		switch {
		case ht.GetOidcToken() != nil:
			auth = &authSpec{oidc: true, email: ht.GetOidcToken().GetServiceAccountEmail(), audience: ht.GetOidcToken().GetAudience()}
		case ht.GetOauthToken() != nil:
			auth = &authSpec{email: ht.GetOauthToken().GetServiceAccountEmail(), scope: ht.GetOauthToken().GetScope()}
		}
	}
	for k := range h {
		lk := strings.ToLower(k)
		if lk == "host" || lk == "content-length" || lk == "user-agent" ||
			strings.HasPrefix(lk, "x-google-") || strings.HasPrefix(lk, "x-appengine-") || strings.HasPrefix(lk, "x-cloudtasks-") ||
			(auth != nil && lk == "authorization") {
			delete(h, k)
		}
	}
	h["User-Agent"] = []string{userAgent}
	h[hQueueName] = []string{shortID(q.name)}
	h[hTaskName] = []string{shortID(t.pb.GetName())}
	h[hRetryCount] = []string{strconv.Itoa(retryCount)}
	h[hExecutionCount] = []string{strconv.Itoa(t.execCount)}
	h[hETA] = []string{etaHeader(t.pb.GetScheduleTime().AsTime())}
	if retryCount > 0 {
		if t.prevResponse != 0 {
			h[hPreviousResponse] = []string{strconv.Itoa(t.prevResponse)}
		}
		if t.retryReason != "" {
			h[hRetryReason] = []string{t.retryReason}
		}
	}
	var body []byte
	switch method {
	case cloudtaskspb.HttpMethod_POST, cloudtaskspb.HttpMethod_PUT, cloudtaskspb.HttpMethod_PATCH:
		body = hr.GetBody()
	}
	return &attemptPlan{
		q: q, t: t,
		method:       method.String(),
		url:          target,
		header:       h,
		body:         body,
		deadline:     now.Add(t.pb.GetDispatchDeadline().AsDuration()),
		dispatchTime: now,
		auth:         auth,
	}
}

// etaHeader formats the schedule time as seconds since the epoch with
// microseconds, as in a real capture: 1602727873.950779.
func etaHeader(t time.Time) string {
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// overrideURI applies a queue's uri_override to a task URL.
func overrideURI(raw string, uo *cloudtaskspb.UriOverride) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	always := uo.GetUriOverrideEnforceMode() != cloudtaskspb.UriOverride_IF_NOT_EXISTS
	if uo.Scheme != nil && (always || u.Scheme == "") {
		u.Scheme = strings.ToLower(uo.GetScheme().String())
	}
	if uo.Host != nil && (always || u.Hostname() == "") {
		if p := u.Port(); p != "" {
			u.Host = uo.GetHost() + ":" + p
		} else {
			u.Host = uo.GetHost()
		}
	}
	if uo.Port != nil && (always || u.Port() == "") {
		if uo.GetPort() == 0 {
			u.Host = u.Hostname()
		} else {
			u.Host = u.Hostname() + ":" + strconv.FormatInt(uo.GetPort(), 10)
		}
	}
	if po := uo.GetPathOverride(); po != nil && (always || u.Path == "" || u.Path == "/") {
		u.Path = po.GetPath()
		u.RawPath = ""
	}
	if qo := uo.GetQueryOverride(); qo != nil && (always || u.RawQuery == "") {
		u.RawQuery = qo.GetQueryParams()
	}
	return u.String()
}

// runAttempt sends the request, cancelling it at the dispatch deadline on the
// injected clock, and records the outcome.
func (s *Server) runAttempt(p *attemptPlan) {
	defer s.work.Done()
	r := s.send(p)
	s.mu.Lock()
	s.finishAttemptLocked(p, r)
	s.mu.Unlock()
}

func (s *Server) send(p *attemptPlan) attemptResult {
	ctx, cancel := context.WithCancel(s.ctx)
	var timedOut atomic.Bool
	var timer sync.WaitGroup
	timer.Add(1)
	go func() {
		defer timer.Done()
		select {
		case <-s.at(p.deadline):
			timedOut.Store(true)
			cancel()
		case <-ctx.Done():
		}
	}()
	defer timer.Wait()
	defer cancel()

	header := p.header.Clone()
	if p.auth != nil {
		tok, err := s.mintToken(p.auth, p.url)
		if err != nil {
			return attemptResult{err: fmt.Errorf("minting token for %s: %w", p.auth.email, err)}
		}
		header["Authorization"] = []string{"Bearer " + tok}
	}
	req, err := http.NewRequestWithContext(ctx, p.method, p.url, bytes.NewReader(p.body))
	if err != nil {
		return attemptResult{err: fmt.Errorf("building request to %s: %w", p.url, err)}
	}
	if len(p.body) == 0 {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	req.Header = header
	resp, err := s.httpClient.Do(req)
	if err != nil {
		if timedOut.Load() {
			return attemptResult{timedOut: true, err: context.DeadlineExceeded}
		}
		return attemptResult{err: err}
	}
	// Drain (bounded) so the connection is reused.
	_, copyErr := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if copyErr != nil && timedOut.Load() {
		return attemptResult{timedOut: true, err: context.DeadlineExceeded}
	}
	return attemptResult{status: resp.StatusCode, header: resp.Header}
}

// responseStatus maps an attempt's outcome to the google.rpc.Status kept in
// Attempt.response_status, using the standard HTTP-to-gRPC code mapping.
func responseStatus(r attemptResult) *rpcstatus.Status {
	switch {
	case r.timedOut:
		return &rpcstatus.Status{Code: int32(codes.DeadlineExceeded), Message: "dispatch deadline exceeded"}
	case r.status == 0:
		msg := "no response"
		if r.err != nil {
			msg = r.err.Error()
		}
		if errors.Is(r.err, context.Canceled) {
			return &rpcstatus.Status{Code: int32(codes.Canceled), Message: msg}
		}
		return &rpcstatus.Status{Code: int32(codes.Unavailable), Message: msg}
	}
	return &rpcstatus.Status{Code: int32(httpToCode(r.status)), Message: http.StatusText(r.status)}
}

func httpToCode(status int) codes.Code {
	switch {
	case status >= 200 && status < 300:
		return codes.OK
	case status == 400:
		return codes.InvalidArgument
	case status == 401:
		return codes.Unauthenticated
	case status == 403:
		return codes.PermissionDenied
	case status == 404:
		return codes.NotFound
	case status == 409:
		return codes.Aborted
	case status == 429:
		return codes.ResourceExhausted
	case status == 499:
		return codes.Canceled
	case status == 501:
		return codes.Unimplemented
	case status == 503:
		return codes.Unavailable
	case status == 504:
		return codes.DeadlineExceeded
	case status >= 400 && status < 500:
		return codes.FailedPrecondition
	case status >= 500:
		return codes.Internal
	}
	return codes.Unknown
}

// retryReason is our value for X-CloudTasks-TaskRetryReason; production does
// not document its format.
func retryReason(r attemptResult) string {
	switch {
	case r.timedOut:
		return "DEADLINE_EXCEEDED"
	case r.status == 0:
		return "UNAVAILABLE"
	}
	return fmt.Sprintf("HTTP %d %s", r.status, http.StatusText(r.status))
}
