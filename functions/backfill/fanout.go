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

// chainsPerQueue is how many expansion chains a job gets per backfill queue (enqueueJob): the
// expansions of a job in flight at once, whatever its size. One chain link creates
// EnqueueSlice tasks at up to the Enqueuer's parallelism, so two chains per queue create tasks
// faster than the queue dispatches them (500/s,
// https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#RateLimits),
// while a queue's max_concurrent_dispatches (1,000 by default) no longer decides how many
// expansions compete for one instance's CPU and enqueue rate: with a thousand expansions
// dispatched at once, none finished before the function's timeout and every one was retried.
const chainsPerQueue = 2

// enqueueJob starts the enqueue of a whole job, the create request's part: a job of at most
// EnqueueSlice tasks gets its worker tasks; a larger one is cut into at most chainsPerQueue x
// queues chains (chainRanges), each an expansion task that the queue delivers back to :expand.
// The request thus creates a bounded number of tasks whatever the job's size.
func (s *Service) enqueueJob(ctx context.Context, plan *backfill.Plan) (taskqueue.Result, string, error) {
	all := backfill.Range{From: 0, To: plan.Tasks}
	if plan.Tasks <= s.cfg.EnqueueSlice {
		res, err := s.enqueueWorkers(ctx, plan, all)
		return res, kindWorkers, err
	}
	res, err := s.createExpansions(ctx, plan, chainRanges(all, s.cfg.EnqueueSlice, chainsPerQueue*len(s.queues)))
	return res, kindExpansions, err
}

// enqueueRange runs one expansion task, a link of a chain: a range of at most EnqueueSlice
// tasks gets its worker tasks; a larger one gets the worker tasks of its first EnqueueSlice
// and then one expansion task for the rest. A link creates at most EnqueueSlice+1 tasks, and
// the next link exists only once this one's tasks do, so a chain has one link in flight (or
// two, while a retried link overlaps its successor). The rest's task is created after the
// workers are counted: a link that dies before is delivered again and creates nothing twice
// (names derive from job and range).
func (s *Service) enqueueRange(ctx context.Context, plan *backfill.Plan, r backfill.Range) (taskqueue.Result, string, error) {
	if r.To-r.From <= s.cfg.EnqueueSlice {
		res, err := s.enqueueWorkers(ctx, plan, r)
		return res, kindWorkers, err
	}
	first := backfill.Range{From: r.From, To: r.From + s.cfg.EnqueueSlice}
	res, err := s.enqueueWorkers(ctx, plan, first)
	if err != nil {
		return res, kindExpansions, err
	}
	next, err := s.createExpansions(ctx, plan, []backfill.Range{{From: first.To, To: r.To}})
	res.Created += next.Created
	res.AlreadyExisted += next.AlreadyExisted
	res.Failed = append(res.Failed, next.Failed...)
	return res, kindExpansions, err
}

// createExpansions creates an expansion task for each range, in the control queue
// (controlEnqueue), or, without one, in the backfill queue of its first task's slice: a
// function of the range alone, so a retried link creates its successor in the queue it was
// created in, where the name dedups.
func (s *Service) createExpansions(ctx context.Context, plan *backfill.Plan, ranges []backfill.Range) (taskqueue.Result, error) {
	tasks := make([]taskqueue.Task, 0, len(ranges))
	for _, c := range ranges {
		body, err := json.Marshal(c)
		if err != nil {
			return taskqueue.Result{}, fmt.Errorf("encoding range %v: %w", c, err)
		}
		tasks = append(tasks, taskqueue.Task{
			Name: expansionTaskName(plan.JobID, c), URL: s.statusURL(plan.JobID) + ":expand", Body: body,
			Headers:            map[string]string{"Content-Type": "application/json"},
			OIDCServiceAccount: s.cfg.TasksServiceAccount, OIDCAudience: s.cfg.BackfillURL,
		})
	}
	res, err := s.controlEnqueue(ctx, tasks, func(j int) int { return ranges[j].From / s.cfg.EnqueueSlice })
	if err != nil {
		return res, fmt.Errorf("creating expansion tasks of %s: %w", plan.JobID, err)
	}
	return res, nil
}

// controlEnqueue creates the function's own control tasks (chain links, retry walk steps): in
// the control queue when the deployment has one (BACKFILL_CONTROL_QUEUE), where they neither
// wait behind worker tasks nor meet the worker queues' max_attempts; otherwise in the backfill
// queue of key(j), as before the control queue existed. A deployment that gains the control
// queue mid-job may run a link twice, once from each queue; a link is idempotent (task names
// derive from job and range, a range is counted once), so that costs only the repeated creates.
func (s *Service) controlEnqueue(ctx context.Context, tasks []taskqueue.Task, key func(j int) int) (taskqueue.Result, error) {
	if s.control != nil {
		return s.control.Enqueue(ctx, tasks)
	}
	return s.queues.enqueue(ctx, tasks, key)
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

// chainRanges cuts r into at most chains consecutive ranges, each a whole number of slices
// but the last, so that every link of every chain but the last creates slice worker tasks.
func chainRanges(r backfill.Range, slice, chains int) []backfill.Range {
	slices := (r.To - r.From + slice - 1) / slice
	size := (slices + chains - 1) / chains * slice
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
