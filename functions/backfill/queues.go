package backfill

import (
	"context"
	"errors"
	"sync"

	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// MaxQueues bounds the queues of BACKFILL_QUEUE. One queue dispatches at most 500 tasks/s
// (https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RateLimits),
// so a job spread over n queues runs at up to n x 500 tasks/s; 20 queues are 10,000 tasks/s,
// which the job's counter documents (COUNTER_SHARDS, at most 10,000) still absorb at one write
// per second each. Terraform's backfill_queues has the same bound.
const MaxQueues = 20

// queues are the backfill queues of this deployment: task i of a job lives in queue i mod n,
// so every part of the function (enqueue, retry, sweep) finds a task where it was created, and
// names stay a dedup (Cloud Tasks dedups names within one queue). Each queue's Enqueuer paces
// its own creates (ENQUEUE_RATE per queue).
type queues []*taskqueue.Enqueuer

// of returns the queue of key (a task index, or a position among sibling tasks).
func (q queues) of(key int) *taskqueue.Enqueuer { return q[((key%len(q))+len(q))%len(q)] }

// enqueue creates tasks, task j in the queue of key(j), every queue's share at once, and sums
// what became of them.
func (q queues) enqueue(ctx context.Context, tasks []taskqueue.Task, key func(j int) int) (taskqueue.Result, error) {
	if len(q) == 1 {
		return q[0].Enqueue(ctx, tasks)
	}
	parts := make([][]taskqueue.Task, len(q))
	for j, t := range tasks {
		k := ((key(j) % len(q)) + len(q)) % len(q)
		parts[k] = append(parts[k], t)
	}
	results := make([]taskqueue.Result, len(q))
	errs := make([]error, len(q))
	var wg sync.WaitGroup
	for k, part := range parts {
		if len(part) == 0 {
			continue
		}
		wg.Go(func() { results[k], errs[k] = q[k].Enqueue(ctx, part) })
	}
	wg.Wait()
	var sum taskqueue.Result
	for _, r := range results {
		sum.Created += r.Created
		sum.AlreadyExisted += r.AlreadyExisted
		sum.Failed = append(sum.Failed, r.Failed...)
	}
	return sum, errors.Join(errs...)
}

// exists reports whether the task of the caller's name is still in a queue: first the queue of
// key, where it was created, then the others, so a task created while BACKFILL_QUEUE listed
// other queues (a deployment that changed backfill_queues during a job) is still found alive
// rather than re-created and, after SWEEP_MAX_ATTEMPTS, failed.
func (q queues) exists(ctx context.Context, name string, key int) (bool, error) {
	first := q.of(key)
	if live, err := first.Exists(ctx, name); err != nil || live {
		return live, err
	}
	for _, e := range q {
		if e == first {
			continue
		}
		if live, err := e.Exists(ctx, name); err != nil || live {
			return live, err
		}
	}
	return false, nil
}
