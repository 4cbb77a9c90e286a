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
// One exception, ours: a 429 whose connection_issue is TooManyConnections backs off from 1 s
// doubling up to 1 minute. It comes at a hand-over between scheduled runs, when X has not yet
// noticed that the previous run's connection closed; waiting a whole minute would lose a
// minute of tweets, while the doubling still stops hammering X if another client holds the
// connection for good.
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
	// BusyInitial is the first wait after a 429 TooManyConnections (default 1 s).
	BusyInitial time.Duration
	// BusyMax caps TooManyConnections waits (default 1 min).
	BusyMax time.Duration
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
	def(&b.BusyInitial, time.Second)
	def(&b.BusyMax, time.Minute)
	return b
}

// backoffState counts consecutive failures per class of error.
type backoffState struct {
	policy                     Backoff
	network, http, rate, conns int
}

func newBackoffState(b Backoff) *backoffState { return &backoffState{policy: b.withDefaults()} }

func (s *backoffState) reset() { s.network, s.http, s.rate, s.conns = 0, 0, 0, 0 }

func (s *backoffState) busy() time.Duration {
	d := doubled(s.policy.BusyInitial, s.conns, s.policy.BusyMax)
	s.conns++
	return d
}

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
