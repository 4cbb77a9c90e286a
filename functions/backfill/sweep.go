package backfill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// The sweep ends jobs whose tasks died without an outcome: a worker killed by its deadline or
// by memory on the queue's last attempt, a task the queue dropped, a state change (a :retry
// reset, an expansion) whose enqueue never happened. Such a shard has no final outcome and no
// task left to give it one.
//
// "No live task" is known from Cloud Tasks itself, not from a clock: every task a shard ever
// had is named by job, generation and index (workerTaskName, sweepTaskName), and GetTask
// answers NotFound once a task answered 2xx, was dropped after its last attempt, or was never
// created. The worker records a shard's outcome before it answers 2xx, so a shard read as
// unfinished after all of its tasks were found gone has lost its task for good. A lease
// timestamp could not tell a lost task from one waiting behind a long queue or a long backoff;
// GetTask can. The clock only decides when a sweep is worth its reads (SweepAfter: the job
// recorded nothing for a dispatch deadline and a margin), never whether a shard is lost.
//
// A lost shard gets a new task under a new name (sweepTaskName, so Cloud Tasks' name dedup does
// not swallow it), created before its sweep mark is moved by compare-and-set, so that
// concurrent sweeps create it once (same name) and count it once (one CAS wins); after SweepMaxAttempts such tasks it is recorded failed, exactly once, through
// the same RecordFailure the worker uses. A task that a sweep re-created while its earlier one
// was in fact finishing runs twice, which the store (first final outcome wins) and the dedup
// view absorb.

// statusSweepBudget is how many shards a status call's sweep checks (two reads each: its sweep
// mark and, after the GetTask calls, its shard).
const statusSweepBudget = 50

// statusSweepReadBudget bounds the shard documents a status call's sweep reads to find them:
// one page, whatever the job's size.
const statusSweepReadBudget = backfill.ShardPageSize

// sweepReadBudget bounds the shard documents any other sweep of one job reads to find its
// SWEEP_BUDGET unfinished shards: 20 pages, about 1.3 MB held at a time.
const sweepReadBudget = 20 * backfill.ShardPageSize

// sweepParallelism bounds the GetTask calls one sweep has in flight.
const sweepParallelism = 16

// sweepJobsLimit bounds the jobs one scheduled sweep looks at; the rotation (ActiveJobs) reaches
// the others on the next calls.
const sweepJobsLimit = 100

// SweepResponse is the answer of POST /backfills/{id}:sweep, one per job for POST
// /backfills:sweep.
type SweepResponse struct {
	JobID string `json:"job_id"`
	// State is the job's state after the sweep.
	State string `json:"state"`
	// Skipped says why the sweep did not look at the job's shards (ended, not quiet).
	Skipped string `json:"skipped,omitempty"`
	// Unfinished is how many shards have no final outcome (planned minus finished, from the
	// counters); Checked how many of them this sweep looked at (at most SWEEP_BUDGET).
	Unfinished int `json:"unfinished"`
	Checked    int `json:"checked"`
	// Live had a task still in the queue; Reenqueued got a new one; Failed were recorded
	// failed after SWEEP_MAX_ATTEMPTS sweeps; Cancelled, of a cancelled job, were recorded
	// cancelled (their task was lost before it could record that).
	Live       int `json:"live"`
	Reenqueued int `json:"reenqueued"`
	Failed     int `json:"failed"`
	Cancelled  int `json:"cancelled,omitempty"`
}

// SweepAllResponse is the answer of POST /backfills:sweep.
type SweepAllResponse struct {
	Jobs []SweepResponse `json:"jobs"`
}

// sweepTaskName is the id of the n-th task a sweep created for a shard (n from 1).
func sweepTaskName(job string, n, index int) string {
	return job + "/s" + strconv.Itoa(n) + "/" + strconv.Itoa(index)
}

// lostReason is what a shard failed by the sweep records.
func lostReason(attempts int) string {
	return fmt.Sprintf("no outcome after %d attempts; last task lost (killed by its deadline or memory, or dropped by the queue)", attempts)
}

// sweepOne handles POST /backfills/{id}:sweep: a forced sweep (the job need not be quiet).
func (s *Service) sweepOne(w http.ResponseWriter, r *http.Request, id string) {
	ctx := r.Context()
	st, err := s.store.Status(ctx, id)
	if err != nil {
		s.storeError(w, r, id, err)
		return
	}
	res, err := s.sweep(ctx, st, s.sweepBudget(), sweepReadBudget, true)
	if err == nil && res.Skipped != "ended" {
		err = s.store.RecordSwept(ctx, id)
	}
	if err != nil {
		s.storeError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// sweepAll handles POST /backfills:sweep, which Cloud Scheduler calls: up to sweepJobsLimit jobs
// stored as planning, running or cancelled, those no sweep looked at for longest first, are
// swept if quiet and marked ended if they ended. Each job looked at is recorded (swept_at), even
// when its sweep failed, so that the next call moves on to others: every active job is reached
// within (active jobs / sweepJobsLimit) calls.
func (s *Service) sweepAll(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ids, err := s.store.ActiveJobs(ctx, s.sweepJobs)
	if err != nil {
		s.storeError(w, r, "", err)
		return
	}
	out := SweepAllResponse{Jobs: []SweepResponse{}}
	var errs []error
	for _, id := range ids {
		res, err := s.sweepByID(ctx, id)
		if res.Skipped != "ended" {
			if rerr := s.store.RecordSwept(ctx, id); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.Jobs = append(out.Jobs, res)
	}
	// Notices whose publish a crash or a Pub/Sub failure cut short (notice.go).
	if err := s.republishNotices(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		s.log.ErrorContext(ctx, "sweeping backfill jobs", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, ErrorResponse{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// sweepByID reads the job's status and sweeps it unless it is busy (not forced).
func (s *Service) sweepByID(ctx context.Context, id string) (SweepResponse, error) {
	st, err := s.store.Status(ctx, id)
	if err != nil {
		return SweepResponse{JobID: id}, err
	}
	return s.sweep(ctx, st, s.sweepBudget(), sweepReadBudget, false)
}

func (s *Service) sweepBudget() int {
	if s.cfg.SweepBudget > 0 {
		return s.cfg.SweepBudget
	}
	return DefaultSweepBudget
}

// sweep checks up to budget of the job's unfinished shards (st is its status, just read),
// found by a walk of its shard documents from a random index that reads at most readBudget of
// them, so that repeated sweeps of a big job reach all of them at a bounded cost each; it
// re-enqueues or fails those whose task is lost. Unless forced, it looks only at a job that
// recorded nothing for SweepAfter. It is safe to run at any time, repeatedly and concurrently
// with workers and other sweeps.
func (s *Service) sweep(ctx context.Context, st *backfill.Status, budget, readBudget int, force bool) (SweepResponse, error) {
	id := st.JobID
	res := SweepResponse{JobID: id, State: st.State}
	finished := st.Counts.Succeeded + st.Counts.Failed + st.Counts.Cancelled
	switch {
	case st.State == backfill.JobDone || st.State == backfill.JobDoneWithFailures:
		res.Skipped = "ended"
		return res, s.end(ctx, st, st.State)
	case st.State == backfill.JobBlocked:
		res.Skipped = st.State // waits for a person
		return res, nil
	case st.State == backfill.JobCancelled && finished >= st.Counts.Planned:
		res.Skipped = "ended"
		return res, s.end(ctx, st, backfill.JobCancelledSwept)
	case !force && !s.quiet(st):
		res.Skipped = "not quiet: an outcome was recorded within SWEEP_AFTER"
		return res, nil
	}
	res.Unfinished = st.Counts.Planned - finished
	job, err := s.store.GetJob(ctx, id)
	if err != nil {
		return res, err
	}
	plan, err := s.jobPlan(job)
	if err != nil {
		return res, err
	}
	walk, err := s.store.UnfinishedFrom(ctx, id, plan.Tasks, rand.N(plan.Tasks), budget, readBudget)
	if err != nil {
		return res, err
	}
	unfinished := walk.Indexes
	var (
		mu    sync.Mutex
		errs  []error
		wg    sync.WaitGroup
		slots = make(chan struct{}, sweepParallelism)
	)
	for _, i := range unfinished {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			what, err := s.sweepShard(ctx, plan, job, i)
			mu.Lock()
			defer mu.Unlock()
			res.Checked++
			switch {
			case err != nil:
				errs = append(errs, err)
			case what == "live":
				res.Live++
			case what == "reenqueued":
				res.Reenqueued++
			case what == "failed":
				res.Failed++
			case what == "cancelled":
				res.Cancelled++
			}
		})
	}
	wg.Wait()
	if res.Failed+res.Cancelled > 0 { // only outcomes can end the job
		if st, err := s.store.Status(ctx, id); err == nil {
			res.State = st.State
			// The job may have ended by these outcomes: store its end now, not a sweep later.
			if err := s.endIfEnded(ctx, st); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Unless forced, a sweep looks only at a job quiet for SweepAfter: "forced": false with a
	// planning or running state is a job that made no progress for that long (the
	// backfill_jobs_stalled log-based metric, terraform/monitoring.tf).
	s.log.InfoContext(ctx, "swept backfill job", "job_id", id, "unfinished", res.Unfinished, "read", walk.Read, "checked", res.Checked,
		"live", res.Live, "reenqueued", res.Reenqueued, "failed", res.Failed, "cancelled", res.Cancelled, "state", res.State, "forced", force)
	return res, errors.Join(errs...)
}

// sweepShard looks at one unfinished shard: "live" when one of its tasks is still in the
// queue, "reenqueued" or "failed" when this sweep acted, "" when another sweep or the worker
// got there first.
func (s *Service) sweepShard(ctx context.Context, plan *backfill.Plan, job *backfill.Job, i int) (string, error) {
	mark, err := s.store.ReadSweepMark(ctx, plan.JobID, i)
	if err != nil {
		return "", err
	}
	// Every name the shard's task can have had: the first run, each :retry generation, each
	// sweep. Any of them still queued means a task will yet record an outcome.
	names := make([]string, 0, job.Retries+1+mark.Attempts)
	for g := 0; g <= job.Retries; g++ {
		names = append(names, workerTaskName(plan.JobID, g, i))
	}
	for n := 1; n <= mark.Attempts; n++ {
		names = append(names, sweepTaskName(plan.JobID, n, i))
	}
	for _, name := range names {
		live, err := s.queues.exists(ctx, name, i)
		if err != nil {
			return "", err
		}
		if live {
			return "live", nil
		}
	}
	// Read after the tasks: a worker records before it answers 2xx (which deletes its task), so
	// a shard still unfinished now lost its task.
	final, err := s.store.Final(ctx, plan.JobID, i)
	if err != nil || final {
		return "", err
	}
	if job.Cancelled {
		// Its task would only have recorded it cancelled: do that.
		first, err := s.store.RecordCancelled(ctx, plan.JobID, plan.Task(i).Ref())
		if err != nil || !first {
			return "", err
		}
		return "cancelled", nil
	}
	if mark.Attempts >= s.cfg.SweepMaxAttempts {
		first, err := s.store.RecordFailure(ctx, plan.JobID, plan.Task(i).Ref(), lostReason(mark.Attempts+1), 0)
		if err != nil || !first {
			return "", err
		}
		return "failed", nil
	}
	// The task first, then the mark: sweeps that saw the same mark create the same name, which
	// Cloud Tasks creates once, and a sweep that reads the moved mark always finds the task
	// (claiming first would let it see the new mark before the task exists, and fail the shard).
	if _, err := s.createNamedWorker(ctx, plan, i, sweepTaskName(plan.JobID, mark.Attempts+1, i)); err != nil {
		return "", err // Nothing moved: the next sweep tries the same name again.
	}
	claimed, err := s.store.ClaimSweep(ctx, plan.JobID, i, mark)
	if err != nil || !claimed {
		return "", err
	}
	return "reenqueued", nil
}

// createNamedWorker creates the worker task of index i under name.
func (s *Service) createNamedWorker(ctx context.Context, plan *backfill.Plan, i int, name string) (taskqueue.Result, error) {
	tasks, err := s.workerTasks(plan, []int{i}, func(int) string { return name })
	if err != nil {
		return taskqueue.Result{}, err
	}
	res, err := s.queues.enqueue(ctx, tasks, func(int) int { return i })
	if err != nil {
		return res, fmt.Errorf("creating sweep task %s: %w", name, err)
	}
	return res, nil
}

// statusSweep is the status call's bounded sweep. A job that is planning, running or cancelled,
// unfinished and quiet for SweepAfter is swept by at most one status call per SweepAfter: the
// call that claims the turn (swept_at, ClaimSweepTurn) checks up to statusSweepBudget shards
// found within statusSweepReadBudget shard documents and, if that recorded an outcome, returns
// the status read again; the others answer the status as read. So a status call reads at most
// the status's own documents, one claim and one bounded sweep, whatever the job's size, and a
// watched quiet job costs one sweep per SweepAfter, not one per poll. A sweep failure is
// logged, not answered: the status itself was read.
func (s *Service) statusSweep(ctx context.Context, st *backfill.Status) (*backfill.Status, error) {
	if (st.State != backfill.JobRunning && st.State != backfill.JobPlanning && st.State != backfill.JobCancelled) ||
		st.Counts.Succeeded+st.Counts.Failed+st.Counts.Cancelled >= st.Counts.Planned || !s.quiet(st) ||
		(!st.SweptAt.IsZero() && s.sweepNow().Sub(st.SweptAt) < s.cfg.SweepAfter) {
		return st, nil
	}
	claimed, err := s.store.ClaimSweepTurn(ctx, st.JobID, s.cfg.SweepAfter)
	if err != nil || !claimed {
		if err != nil {
			s.log.WarnContext(ctx, "claiming a sweep from a status call failed", "job_id", st.JobID, "error", err)
		}
		return st, nil
	}
	res, err := s.sweep(ctx, st, statusSweepBudget, statusSweepReadBudget, false)
	if err != nil {
		s.log.WarnContext(ctx, "sweep from a status call failed", "job_id", st.JobID, "error", err)
		return st, nil
	}
	if res.Reenqueued == 0 && res.Failed == 0 && res.Cancelled == 0 {
		return st, nil
	}
	return s.store.Status(ctx, st.JobID)
}

// quiet reports whether the job recorded nothing for SweepAfter (always, when it is 0).
func (s *Service) quiet(st *backfill.Status) bool {
	return s.cfg.SweepAfter <= 0 || s.sweepNow().Sub(st.UpdatedAt) >= s.cfg.SweepAfter
}
