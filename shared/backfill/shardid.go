package backfill

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ShardBuckets is how many key ranges a job's shard (task outcome) documents are spread over.
// Tasks run roughly in index order, and Firestore limits writes to lexicographically close
// document ids (sequential ids) to about 500 per second per collection, one queue's whole
// dispatch rate ("Avoid high read or write rates to lexicographically close documents", "500
// writes per second" for sequential ids and indexed monotonically increasing values:
// https://cloud.google.com/firestore/docs/best-practices, "Document IDs"; https://cloud.google.com/firestore/docs/solutions/shard-timestamp).
// Task i's id starts with its bucket i mod ShardBuckets, so consecutive tasks write to 64
// ranges Firestore can split apart: at the default 4 queues of 500 dispatches/s, about 31
// writes/s per range.
const ShardBuckets = 64

// shardLayout names the shard documents of one job. buckets 0 is the layout of jobs created
// before ShardBuckets (ids t%09d, in index order), which they keep: their documents still read.
type shardLayout struct{ buckets int }

// legacyLayout is the layout of a job document without shard_layout.
var legacyLayout = shardLayout{}

// currentLayout is the layout new jobs get (NewJob).
var currentLayout = shardLayout{buckets: ShardBuckets}

// ShardDocID is the id of task index's shard document in a job created now (for seeding
// benchmarks and tests).
func ShardDocID(index int) string { return currentLayout.id(index) }

// id is the document id of task index: "s<bucket>-<index / buckets>", both zero-padded so
// that id order within a bucket is index order; legacy: "t<index>".
func (l shardLayout) id(index int) string {
	if l.buckets == 0 {
		return fmt.Sprintf("t%09d", index)
	}
	return fmt.Sprintf("s%02d-%09d", index%l.buckets, index/l.buckets)
}

// parse is the inverse of id; ok is false for an id of another layout.
func (l shardLayout) parse(id string) (int, bool) {
	if l.buckets == 0 {
		rest, ok := strings.CutPrefix(id, "t")
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(rest)
		return n, err == nil && n >= 0
	}
	rest, ok := strings.CutPrefix(id, "s")
	if !ok {
		return 0, false
	}
	b, q, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	bn, err1 := strconv.Atoi(b)
	qn, err2 := strconv.Atoi(q)
	if err1 != nil || err2 != nil || bn < 0 || bn >= l.buckets || qn < 0 {
		return 0, false
	}
	return qn*l.buckets + bn, true
}

// The walk of a sweep (sweepwalk.go) reads a job's shard documents in id order. Positions
// number the tasks [0, n) in that order: pos maps a task index to its position, index maps a
// position back. Bucket b holds the tasks b, b+B, b+2B, ... below n: with n = B*q + r, the
// first r buckets hold q+1 tasks and the others q.

// pos is task index's position in id order among n tasks.
func (l shardLayout) pos(index, n int) int {
	if l.buckets == 0 {
		return index
	}
	q, r := n/l.buckets, n%l.buckets
	b := index % l.buckets
	return b*q + min(b, r) + index/l.buckets
}

// index is the task at position p in id order among n tasks.
func (l shardLayout) index(p, n int) int {
	if l.buckets == 0 {
		return p
	}
	q, r := n/l.buckets, n%l.buckets
	var b, k int
	if big := r * (q + 1); p < big {
		b, k = p/(q+1), p%(q+1)
	} else {
		b, k = r+(p-big)/q, (p-big)%q
	}
	return k*l.buckets + b
}

// maxCachedLayouts bounds the job layouts a Store remembers; past it the cache starts over
// (one read per job again), so an instance that serves many jobs holds little.
const maxCachedLayouts = 10_000

// layoutCache remembers jobs' layouts: a job's layout never changes once it is created.
type layoutCache struct {
	mu   sync.Mutex
	jobs map[string]shardLayout
}

// layout returns the job's shard layout, from its job document (read once per Store and job).
// A job with no document yet gets the current layout, uncached.
func (s *Store) layout(ctx context.Context, job string) (shardLayout, error) {
	s.layouts.mu.Lock()
	l, ok := s.layouts.jobs[job]
	s.layouts.mu.Unlock()
	if ok {
		return l, nil
	}
	snap, err := s.jobRef(job).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return currentLayout, nil
	}
	if err != nil {
		return shardLayout{}, fmt.Errorf("reading the shard layout of backfill job %s: %w", job, err)
	}
	l = legacyLayout
	if v, err := snap.DataAt("shard_layout"); err == nil {
		if n, ok := v.(int64); ok && n > 0 {
			l = shardLayout{buckets: int(n)}
		}
	}
	s.layouts.mu.Lock()
	if s.layouts.jobs == nil || len(s.layouts.jobs) >= maxCachedLayouts {
		s.layouts.jobs = map[string]shardLayout{}
	}
	s.layouts.jobs[job] = l
	s.layouts.mu.Unlock()
	return l, nil
}
