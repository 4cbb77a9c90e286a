package tasksemulator

import (
	"container/heap"
	"math"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Production defaults and limits, from the RateLimits and RetryConfig reference.
const (
	defaultMaxDispatchesPerSecond  = 500
	maxMaxDispatchesPerSecond      = 500
	defaultMaxConcurrentDispatches = 1000
	maxMaxConcurrentDispatches     = 5000
	maxMaxBurstSize                = 500
	defaultMaxAttempts             = 100
	defaultMinBackoff              = 100 * time.Millisecond
	defaultMaxBackoff              = time.Hour
	defaultMaxDoublings            = 16
)

// queue is one queue's configuration, tasks and dispatch state.
type queue struct {
	name     string
	pb       *cloudtaskspb.Queue
	tasks    map[string]*task
	ready    taskHeap // tasks waiting for their schedule time, not being attempted
	inflight int
	limiter  *rate.Limiter
	wake     chan struct{} // buffered(1): a nudge for the dispatcher
	stop     chan struct{} // closed when the queue is deleted
}

func newQueue(pb *cloudtaskspb.Queue, now time.Time) *queue {
	q := &queue{
		name:  pb.GetName(),
		pb:    pb,
		tasks: map[string]*task{},
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
	rl := pb.GetRateLimits()
	q.limiter = rate.NewLimiter(rate.Limit(rl.GetMaxDispatchesPerSecond()), int(rl.GetMaxBurstSize()))
	return q
}

// reconfigure applies the queue's current rate limits to its token bucket.
func (q *queue) reconfigure(now time.Time) {
	rl := q.pb.GetRateLimits()
	q.limiter.SetLimitAt(now, rate.Limit(rl.GetMaxDispatchesPerSecond()))
	q.limiter.SetBurstAt(now, int(rl.GetMaxBurstSize()))
}

// nudge wakes the dispatcher without blocking.
func (q *queue) nudge() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// task is one task and the dispatch bookkeeping the Task message does not carry.
type task struct {
	pb         *cloudtaskspb.Task
	scheduleAt time.Time
	seq        uint64 // creation order, to break schedule-time ties first in, first out
	index      int    // position in queue.ready; -1 when not there
	running    int    // attempts in flight (RunTask can overlap a dispatch)
	// execCount counts attempts that got a response other than 5xx, for X-CloudTasks-TaskExecutionCount.
	execCount    int
	prevResponse int    // HTTP status of the previous attempt; 0 when it got none
	retryReason  string // why the previous attempt failed
	firstAttempt time.Time
	gone         bool // deleted, purged, executed or dropped
}

// taskHeap orders tasks by schedule time.
type taskHeap []*task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].scheduleAt.Equal(h[j].scheduleAt) {
		return h[i].seq < h[j].seq
	}
	return h[i].scheduleAt.Before(h[j].scheduleAt)
}
func (h taskHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *taskHeap) Push(x any) {
	t := x.(*task)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}

// removeReady takes t out of the ready heap if it is there.
func (q *queue) removeReady(t *task) {
	if t.index >= 0 {
		heap.Remove(&q.ready, t.index)
	}
}

// applyQueueDefaults fills what production fills when a field is unset and
// computes the output-only max_burst_size.
func applyQueueDefaults(q *cloudtaskspb.Queue) {
	if q.RateLimits == nil {
		q.RateLimits = &cloudtaskspb.RateLimits{}
	}
	rl := q.RateLimits
	if rl.MaxDispatchesPerSecond == 0 {
		rl.MaxDispatchesPerSecond = defaultMaxDispatchesPerSecond
	}
	if rl.MaxConcurrentDispatches == 0 {
		rl.MaxConcurrentDispatches = defaultMaxConcurrentDispatches
	}
	rl.MaxBurstSize = burstFor(rl.MaxDispatchesPerSecond)
	if q.RetryConfig == nil {
		q.RetryConfig = &cloudtaskspb.RetryConfig{}
	}
	fillRetryDefaults(q.RetryConfig)
	if q.State == cloudtaskspb.Queue_STATE_UNSPECIFIED {
		q.State = cloudtaskspb.Queue_RUNNING
	}
}

func fillRetryDefaults(rc *cloudtaskspb.RetryConfig) {
	if rc.MaxAttempts == 0 {
		rc.MaxAttempts = defaultMaxAttempts
	}
	if rc.MinBackoff == nil {
		rc.MinBackoff = durationpb.New(defaultMinBackoff)
	}
	if rc.MaxBackoff == nil {
		rc.MaxBackoff = durationpb.New(defaultMaxBackoff)
	}
	if rc.MaxDoublings == 0 {
		rc.MaxDoublings = defaultMaxDoublings
	}
}

// burstFor picks max_burst_size from the rate. The reference says only that it
// is "generally at least equal to max_dispatches_per_second" and at most 500,
// so we take the rate rounded up, at least 1.
func burstFor(perSecond float64) int32 {
	b := int32(math.Ceil(perSecond))
	return max(1, min(b, maxMaxBurstSize))
}

// validateQueueConfig checks the settable fields against the documented limits.
func validateQueueConfig(q *cloudtaskspb.Queue) error {
	if rl := q.GetRateLimits(); rl != nil {
		if rl.MaxDispatchesPerSecond < 0 || rl.MaxDispatchesPerSecond > maxMaxDispatchesPerSecond || math.IsNaN(rl.MaxDispatchesPerSecond) {
			return invalidf("rate_limits.max_dispatches_per_second must be in (0, %d], got %v", maxMaxDispatchesPerSecond, rl.MaxDispatchesPerSecond)
		}
		if rl.MaxConcurrentDispatches < 0 || rl.MaxConcurrentDispatches > maxMaxConcurrentDispatches {
			return invalidf("rate_limits.max_concurrent_dispatches must be in [1, %d], got %d", maxMaxConcurrentDispatches, rl.MaxConcurrentDispatches)
		}
	}
	if err := validateRetryConfig("retry_config", q.GetRetryConfig()); err != nil {
		return err
	}
	if lc := q.GetStackdriverLoggingConfig(); lc != nil && (lc.SamplingRatio < 0 || lc.SamplingRatio > 1) {
		return invalidf("stackdriver_logging_config.sampling_ratio must be in [0, 1], got %v", lc.SamplingRatio)
	}
	if ht := q.GetHttpTarget(); ht != nil {
		if uo := ht.GetUriOverride(); uo != nil && uo.Host != nil && uo.GetHost() == "" {
			return invalidf("http_target.uri_override.host must not be empty")
		}
	}
	return nil
}

func validateRetryConfig(field string, rc *cloudtaskspb.RetryConfig) error {
	if rc == nil {
		return nil
	}
	if rc.MaxAttempts < -1 {
		return invalidf("%s.max_attempts must be -1 (unlimited) or positive, got %d", field, rc.MaxAttempts)
	}
	if rc.MaxDoublings < 0 {
		return invalidf("%s.max_doublings must not be negative, got %d", field, rc.MaxDoublings)
	}
	for name, d := range map[string]*durationpb.Duration{"min_backoff": rc.MinBackoff, "max_backoff": rc.MaxBackoff, "max_retry_duration": rc.MaxRetryDuration} {
		if d != nil && (d.CheckValid() != nil || d.AsDuration() < 0) {
			return invalidf("%s.%s must be a non-negative duration, got %v", field, name, d)
		}
	}
	if rc.MinBackoff != nil && rc.MaxBackoff != nil && rc.MinBackoff.AsDuration() > rc.MaxBackoff.AsDuration() {
		return invalidf("%s.min_backoff (%v) must not exceed max_backoff (%v)", field, rc.MinBackoff.AsDuration(), rc.MaxBackoff.AsDuration())
	}
	return nil
}

// cloneQueue returns a copy safe to hand to callers.
func cloneQueue(q *cloudtaskspb.Queue) *cloudtaskspb.Queue {
	return proto.Clone(q).(*cloudtaskspb.Queue)
}

func heapPush(h *taskHeap, t *task) { heap.Push(h, t) }
