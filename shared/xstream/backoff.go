package xstream

import "time"

// Backoff is the reconnect policy of Stream. The zero value is the policy X
// documents for its streaming endpoints
// (https://docs.x.com/x-api/fundamentals/handling-disconnections, "Reconnection
// strategy"; the same numbers were on developer.twitter.com's "Connecting to a
// streaming endpoint" page):
//   - once an established connection drops, reconnect immediately;
//   - TCP/IP-level errors: back off linearly, +250 ms per attempt, up to 16 s;
//   - HTTP errors: back off exponentially, from 5 s doubling up to 320 s;
//   - HTTP 429: back off exponentially, from 1 minute doubling.
//
// The counters reset after a connection that received data.
type Backoff struct {
	// NetworkStep is the linear step for network errors (default 250 ms).
	NetworkStep time.Duration
	// NetworkMax caps network-error waits (default 16 s).
	NetworkMax time.Duration
	// HTTPInitial is the first wait after an HTTP error (default 5 s).
	HTTPInitial time.Duration
	// HTTPMax caps HTTP-error waits (default 320 s).
	HTTPMax time.Duration
	// RateLimitInitial is the first wait after a 429 (default 1 min).
	RateLimitInitial time.Duration
	// RateLimitMax caps 429 waits. X documents no cap; the default, 16 min,
	// is the fifth doubling and outlasts X's 15-minute rate-limit window.
	RateLimitMax time.Duration
}

func (b Backoff) withDefaults() Backoff {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&b.NetworkStep, 250*time.Millisecond)
	def(&b.NetworkMax, 16*time.Second)
	def(&b.HTTPInitial, 5*time.Second)
	def(&b.HTTPMax, 320*time.Second)
	def(&b.RateLimitInitial, time.Minute)
	def(&b.RateLimitMax, 16*time.Minute)
	return b
}

// backoffState counts consecutive failures per class of error.
type backoffState struct {
	policy              Backoff
	network, http, rate int
}

func newBackoffState(b Backoff) *backoffState { return &backoffState{policy: b.withDefaults()} }

func (s *backoffState) reset() { s.network, s.http, s.rate = 0, 0, 0 }

func (s *backoffState) networkError() time.Duration {
	s.network++
	return min(time.Duration(s.network)*s.policy.NetworkStep, s.policy.NetworkMax)
}

func (s *backoffState) httpError() time.Duration {
	d := doubled(s.policy.HTTPInitial, s.http, s.policy.HTTPMax)
	s.http++
	return d
}

func (s *backoffState) rateLimited() time.Duration {
	d := doubled(s.policy.RateLimitInitial, s.rate, s.policy.RateLimitMax)
	s.rate++
	return d
}

// doubled returns initial*2^n capped at max, without overflowing.
func doubled(initial time.Duration, n int, max time.Duration) time.Duration {
	d := initial
	for range n {
		if d >= max {
			break
		}
		d *= 2
	}
	return min(d, max)
}
