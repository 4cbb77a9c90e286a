package runbackfilltask

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecide(t *testing.T) {
	first := attempt{retryCount: 0, maxAttempts: 100}
	last := attempt{retryCount: 99, maxAttempts: 100}
	forever := attempt{retryCount: 5000, maxAttempts: UnlimitedAttempts}
	tests := []struct {
		name string
		r    result
		a    attempt
		want decision
	}{
		{"success", result{kind: succeeded, rows: 3}, first, decision{call: callSuccess, status: http.StatusOK, level: slog.LevelInfo}},
		{"success on the last attempt", result{kind: succeeded}, last, decision{call: callSuccess, status: http.StatusOK, level: slog.LevelInfo}},
		{"transient", result{kind: transient, reason: "http 503"}, first,
			decision{call: callRetrying, reason: "http 503", status: http.StatusServiceUnavailable, level: slog.LevelWarn}},
		{"rate limited", result{kind: transient, reason: "http 429", rateLimited: true, retryAfter: 30 * time.Second}, first,
			decision{call: callRetrying, reason: "http 429", status: http.StatusTooManyRequests, retryAfter: 30 * time.Second, level: slog.LevelWarn}},
		{"transient on the last attempt", result{kind: transient, reason: "http 503", retryAfter: time.Minute}, last,
			decision{call: callFailure, reason: "gave up after 100 attempts: http 503", status: http.StatusOK, level: slog.LevelError}},
		{"transient with unlimited attempts", result{kind: transient, reason: "timeout"}, forever,
			decision{call: callRetrying, reason: "timeout", status: http.StatusServiceUnavailable, level: slog.LevelWarn}},
		{"permanent", result{kind: permanent, reason: "http 400"}, first,
			decision{call: callFailure, reason: "http 400", status: http.StatusOK, level: slog.LevelWarn}},
		{"auth revoked", result{kind: authRevoked, reason: "invalid_grant"}, first,
			decision{call: callBlock, reason: "invalid_grant", status: http.StatusOK, level: slog.LevelError}},
		{"job cancelled", result{kind: jobCancelled}, first, decision{call: callCancelled, status: http.StatusOK, level: slog.LevelInfo}},
		{"job blocked", result{kind: jobBlocked, reason: "invalid_grant"}, first,
			decision{call: callFailure, reason: "job blocked: invalid_grant", status: http.StatusOK, level: slog.LevelWarn}},
		{"unrecordable", result{kind: unrecordable, reason: "malformed task"}, first,
			decision{call: callNone, reason: "malformed task", status: http.StatusOK, level: slog.LevelError}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, decide(tt.r, tt.a), cmp.AllowUnexported(decision{})); diff != "" {
			t.Errorf("%s: decide(%+v, %+v) mismatch (-want +got):\n%s", tt.name, tt.r, tt.a, diff)
		}
	}
}

func TestReadDelivery(t *testing.T) {
	h := http.Header{}
	h.Set(HeaderQueueName, "backfill")
	h.Set(HeaderTaskName, "bf-1-t000000003")
	h.Set(HeaderRetryCount, "4")
	h.Set(HeaderExecutionCount, "3")
	h.Set(HeaderETA, "1795341600.250000")
	h.Set(HeaderPreviousResponse, "503")
	h.Set(HeaderRetryReason, "HTTP_ERROR")
	want := delivery{Queue: "backfill", Task: "bf-1-t000000003", RetryCount: 4, ExecutionCount: 3,
		ETA: time.Date(2026, 11, 22, 10, 0, 0, 250_000_000, time.UTC), PreviousResponse: "503", RetryReason: "HTTP_ERROR"}
	got := readDelivery(h)
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Sub(b).Abs() < time.Millisecond })); diff != "" {
		t.Errorf("readDelivery() mismatch (-want +got):\n%s", diff)
	}
	if got := readDelivery(http.Header{}); got.RetryCount != 0 || !got.ETA.IsZero() {
		t.Errorf("readDelivery(no headers) = %+v, want a first attempt without ETA", got)
	}
}
