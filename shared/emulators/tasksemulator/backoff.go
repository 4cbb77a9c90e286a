package tasksemulator

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
)

// effectiveRetry returns the task's retry config (which overrides the
// queue's, per Task.retry_config) with defaults filled in.
func effectiveRetry(q *queue, t *task) *cloudtaskspb.RetryConfig {
	if rc := t.pb.GetRetryConfig(); rc != nil {
		c := &cloudtaskspb.RetryConfig{
			MaxAttempts: rc.MaxAttempts, MaxRetryDuration: rc.MaxRetryDuration,
			MinBackoff: rc.MinBackoff, MaxBackoff: rc.MaxBackoff, MaxDoublings: rc.MaxDoublings,
		}
		fillRetryDefaults(c)
		return c
	}
	return q.pb.GetRetryConfig()
}

// backoff returns the delay before the retry that follows the given number of
// failed attempts (1 for the first retry). Per RetryConfig.max_doublings: the
// interval starts at min_backoff, doubles max_doublings times, then grows
// linearly by 2^max_doublings * min_backoff, capped at max_backoff
// (10s, 20s, 40s, 80s, 160s, 240s, 300s, 300s for 10s/300s/3).
func backoff(rc *cloudtaskspb.RetryConfig, failures int) time.Duration {
	minB := rc.GetMinBackoff().AsDuration()
	maxB := rc.GetMaxBackoff().AsDuration()
	doublings := int(rc.GetMaxDoublings())
	i := failures - 1 // retries already scheduled before this one
	var d time.Duration
	if i <= doublings {
		d = shiftCapped(minB, i, maxB)
	} else {
		step := shiftCapped(minB, doublings, maxB)
		n := time.Duration(i - doublings + 1)
		if step > 0 && n > maxB/step {
			d = maxB
		} else {
			d = step * n
		}
	}
	return min(d, maxB)
}

// shiftCapped returns d * 2^n, saturating at limit instead of overflowing.
func shiftCapped(d time.Duration, n int, limit time.Duration) time.Duration {
	for ; n > 0; n-- {
		if d >= limit {
			return limit
		}
		d *= 2
	}
	return d
}

// exhausted reports whether a task that has been attempted attempts times,
// first at first, may not be retried at now. RetryConfig: retries stop only
// when max_attempts and max_retry_duration are both satisfied; an unset (0)
// max_retry_duration counts as satisfied, and max_attempts -1 is unlimited,
// so -1 with no duration retries until the 31-day retention.
func exhausted(rc *cloudtaskspb.RetryConfig, attempts int, first, now time.Time) bool {
	maxDur := rc.GetMaxRetryDuration().AsDuration().Truncate(time.Second)
	durationDone := maxDur <= 0 || now.Sub(first) >= maxDur
	var attemptsDone bool
	switch {
	case rc.GetMaxAttempts() < 0:
		// Unlimited attempts: only a positive max_retry_duration can end retries.
		attemptsDone = maxDur > 0
	default:
		attemptsDone = attempts >= int(rc.GetMaxAttempts())
	}
	return attemptsDone && durationDone
}

// retryAfter parses a Retry-After header (delay-seconds or an HTTP date) relative to now.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}
