package collectevents

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

// limiters holds one token bucket per write key on this instance. A key's budget is split in
// equal shares between the instances CollectEvents may run (shares: its max_instances), so that
// all instances together never admit more than the key's rate and burst, without a shared
// counter on the request path. The price is under-admission while fewer instances serve the
// key: with k of n instances serving it, it gets at least k/n of its rate (docs/collect.md).
// Each key has its own bucket and lock, held only to take a token: one key's burst is answered
// 429 without touching any other key's bucket.
type limiters struct {
	shares int
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*keyLimiter // by key id; bounded by the keys that exist (only found keys get one)
}

type keyLimiter struct {
	lim        *rate.Limiter
	ratePerSec float64
	burst      int
}

func newLimiters(shares int, now func() time.Time) *limiters {
	if shares < 1 {
		shares = 1
	}
	return &limiters{shares: shares, now: now, m: map[string]*keyLimiter{}}
}

// share returns this instance's share of a key's rate and burst. The burst is rounded up so
// that a key of burst 1 can still send.
func (l *limiters) share(k writekeys.Key) (rate.Limit, int) {
	return rate.Limit(k.RatePerSec / float64(l.shares)), max(1, int(math.Ceil(float64(k.Burst)/float64(l.shares))))
}

// allow takes one token of k's bucket; when there is none it returns how long until there is.
func (l *limiters) allow(k writekeys.Key) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	kl := l.m[k.ID]
	if kl == nil || kl.ratePerSec != k.RatePerSec || kl.burst != k.Burst {
		// New key, or its settings changed (read again after the cache's TTL).
		r, b := l.share(k)
		kl = &keyLimiter{lim: rate.NewLimiter(r, b), ratePerSec: k.RatePerSec, burst: k.Burst}
		l.m[k.ID] = kl
	}
	l.mu.Unlock()
	now := l.now()
	if kl.lim.AllowN(now, 1) {
		return true, 0
	}
	// One token comes back every 1/limit seconds; the bucket holds TokensAt (< 1) now.
	missing := 1 - kl.lim.TokensAt(now)
	return false, time.Duration(missing / float64(kl.lim.Limit()) * float64(time.Second))
}

// retryAfterSeconds is the Retry-After value for a wait: whole seconds, at least 1 (RFC 9110
// section 10.2.3: delay-seconds is a non-negative integer).
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}
