package runbackfilltask

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// DefaultJobCacheTTL is how long an instance trusts a job's state it read: a cancel or block made
// elsewhere reaches its tasks within this bound (tasks already running finish either way). At
// 500 deliveries/s this saves nearly every job read: one per job per instance per TTL.
const DefaultJobCacheTTL = 2 * time.Second

// jobCache keeps each job's state for ttl, so a delivery does not read the job document every
// time. Only existing jobs are kept; a job this instance blocks is kept blocked at once.
type jobCache struct {
	store Store
	ttl   time.Duration
	now   func() time.Time
	mu    sync.Mutex
	jobs  map[string]cachedJob
}

type cachedJob struct {
	job  *backfill.Job
	read time.Time
}

func newJobCache(store Store, ttl time.Duration, now func() time.Time) *jobCache {
	return &jobCache{store: store, ttl: ttl, now: now, jobs: map[string]cachedJob{}}
}

// get returns the job, read at most ttl ago. Concurrent misses may each read it: a few reads,
// never a stale answer beyond ttl.
func (c *jobCache) get(ctx context.Context, id string) (*backfill.Job, error) {
	if c.ttl <= 0 {
		return c.store.GetJob(ctx, id)
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.jobs[id]
	c.mu.Unlock()
	if ok && now.Sub(e.read) < c.ttl {
		return e.job, nil
	}
	job, err := c.store.GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.jobs { // expired entries go, so the map holds the jobs of the last ttl
		if now.Sub(e.read) >= c.ttl {
			delete(c.jobs, k)
		}
	}
	c.jobs[id] = cachedJob{job: job, read: now}
	return job, nil
}

// blocked marks a job this instance just blocked, so its next deliveries make no API call.
func (c *jobCache) blocked(id, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.jobs[id]
	if !ok {
		return
	}
	j := *e.job
	j.State, j.Blocked = backfill.JobBlocked, reason
	c.jobs[id] = cachedJob{job: &j, read: e.read}
}

// DefaultMaxCommits is how many outcome commits one instance has in flight at most. Firestore
// (and far more its emulator, whose lock manager serialises commits and slows as its queue of
// waiting commits grows) commits a bounded number at once anyway: deliveries beyond the bound
// wait here, in order, rather than in the database's lock queue.
const DefaultMaxCommits = 32

// commitSlots bounds commits in flight; a nil channel bounds nothing.
type commitSlots chan struct{}

func newCommitSlots(n int) commitSlots {
	if n <= 0 {
		return nil
	}
	return make(commitSlots, n)
}

// acquire takes a slot, or fails when ctx ends first; release gives back what acquire took.
func (c commitSlots) acquire(ctx context.Context) error {
	if c == nil {
		return nil
	}
	select {
	case c <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a commit slot: %w", ctx.Err())
	}
}

func (c commitSlots) release() {
	if c == nil {
		return
	}
	select {
	case <-c:
	default:
	}
}
