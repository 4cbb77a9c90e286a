package backfill

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// What enqueueRange did with a range.
const (
	kindWorkers    = "workers"
	kindExpansions = "expansions"
	kindSkipped    = "skipped"
	kindRetry      = "retry"
)

// enqueueRange creates the tasks of r. A range of at most EnqueueSlice tasks gets its worker
// tasks; a larger one is split into at most EnqueueSlice expansion tasks (childRanges), each
// of which the queue delivers back to :expand. A million-task job thus costs the first request
// about a thousand creates, and no request more than EnqueueSlice.
func (s *Service) enqueueRange(ctx context.Context, plan *backfill.Plan, r backfill.Range) (taskqueue.Result, string, error) {
	if r.To-r.From <= s.cfg.EnqueueSlice {
		res, err := s.enqueueWorkers(ctx, plan, r)
		return res, kindWorkers, err
	}
	children := childRanges(r, s.cfg.EnqueueSlice)
	tasks := make([]taskqueue.Task, 0, len(children))
	for _, c := range children {
		body, err := json.Marshal(c)
		if err != nil {
			return taskqueue.Result{}, kindExpansions, fmt.Errorf("encoding range %v: %w", c, err)
		}
		tasks = append(tasks, taskqueue.Task{
			Name: expansionTaskName(plan.JobID, c), URL: s.statusURL(plan.JobID) + ":expand", Body: body,
			Headers:            map[string]string{"Content-Type": "application/json"},
			OIDCServiceAccount: s.cfg.TasksServiceAccount, OIDCAudience: s.cfg.BackfillURL,
		})
	}
	// Child j in queue j mod n: the children of a range are always the same, so a retried
	// expansion finds each child in the queue it was created in (names dedup within a queue).
	res, err := s.queues.enqueue(ctx, tasks, func(j int) int { return j })
	if err != nil {
		return res, kindExpansions, fmt.Errorf("creating expansion tasks of %s [%d, %d): %w", plan.JobID, r.From, r.To, err)
	}
	return res, kindExpansions, nil
}

// enqueueWorkers creates the worker tasks of r (generation 0, the first run), then counts the
// range as enqueued. The count is per range and written once (RecordEnqueued): a retried
// expansion finds its tasks already there and its range either counted already or counted now,
// so the count is exact whichever step a failure interrupted. The job's state follows from the
// counts (Status): planning until every range is counted, then running.
func (s *Service) enqueueWorkers(ctx context.Context, plan *backfill.Plan, r backfill.Range) (taskqueue.Result, error) {
	indexes := make([]int, 0, r.To-r.From)
	for i := r.From; i < r.To; i++ {
		indexes = append(indexes, i)
	}
	res, err := s.createWorkers(ctx, plan, indexes, 0)
	if err != nil {
		return res, err // Not counted: the retry creates the rest and counts the whole range.
	}
	if _, err := s.store.RecordEnqueued(ctx, plan.JobID, r); err != nil {
		return res, err
	}
	return res, nil
}

// createWorkers creates the worker tasks of the given indexes, named for their generation.
func (s *Service) createWorkers(ctx context.Context, plan *backfill.Plan, indexes []int, generation int) (taskqueue.Result, error) {
	tasks, err := s.workerTasks(plan, indexes, func(i int) string { return workerTaskName(plan.JobID, generation, i) })
	if err != nil {
		return taskqueue.Result{}, err
	}
	res, err := s.queues.enqueue(ctx, tasks, func(j int) int { return indexes[j] })
	if err != nil {
		return res, fmt.Errorf("creating worker tasks of %s: %w", plan.JobID, err)
	}
	return res, nil
}

// workerTasks returns the worker tasks of the given indexes, each named by name.
func (s *Service) workerTasks(plan *backfill.Plan, indexes []int, name func(int) string) ([]taskqueue.Task, error) {
	tasks := make([]taskqueue.Task, 0, len(indexes))
	for _, i := range indexes {
		body, err := json.Marshal(plan.Task(i))
		if err != nil {
			return nil, fmt.Errorf("encoding task %d of %s: %w", i, plan.JobID, err)
		}
		tasks = append(tasks, taskqueue.Task{
			Name: name(i), URL: s.cfg.WorkerURL, Body: body,
			Headers:            map[string]string{"Content-Type": "application/json"},
			OIDCServiceAccount: s.cfg.TasksServiceAccount, OIDCAudience: s.cfg.WorkerURL,
			DispatchDeadline: s.cfg.DispatchDeadline,
		})
	}
	return tasks, nil
}

// childRanges splits r into at most slice consecutive ranges whose size is a power of slice,
// so that leaves hold slice tasks each and the tree is as shallow as it can be.
func childRanges(r backfill.Range, slice int) []backfill.Range {
	size := slice
	for size*slice < r.To-r.From {
		size *= slice
	}
	var out []backfill.Range
	for from := r.From; from < r.To; from += size {
		out = append(out, backfill.Range{From: from, To: min(from+size, r.To)})
	}
	return out
}

// workerTaskName is the id of task index of a job's given run: the first run is generation 0,
// each :retry the job's retry count, so a retried task never collides with its earlier task's
// name (which Cloud Tasks keeps reserved for a while after it ran).
func workerTaskName(job string, generation, index int) string {
	return job + "/w" + strconv.Itoa(generation) + "/" + strconv.Itoa(index)
}

// expansionTaskName is the id of the expansion task of a range.
func expansionTaskName(job string, r backfill.Range) string {
	return fmt.Sprintf("%s/x/%d-%d", job, r.From, r.To)
}
