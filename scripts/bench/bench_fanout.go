package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// FanoutConfig sizes the fan-out benchmark.
type FanoutConfig struct {
	Videos, Days int
	Queue        localstack.QueueConfig
	// BaselineTasks is how many tasks the baseline creates one at a time.
	BaselineTasks int
	Timeout       time.Duration
	Binary        string
	FunctionsEnv  map[string]string
	Log           *slog.Logger
	Logs          io.Writer
}

// FanoutResult is the Backfill function's enqueue rate for one job and the naive loop's.
type FanoutResult struct {
	Tasks     int     `json:"tasks"`
	ElapsedS  float64 `json:"elapsed_s"`
	TasksPerS float64 `json:"tasks_per_s"`
	// The baseline at equal parallelism: the same tasks, one CreateTask call per task, with as
	// many calls in flight as the Backfill function's ENQUEUE_PARALLELISM.
	BaselineParallelism int     `json:"baseline_parallelism"`
	BaselineTasks       int     `json:"baseline_tasks"`
	BaselineTasksPerS   float64 `json:"baseline_tasks_per_s"`
	Ratio               float64 `json:"ratio"`
	// The seed's baseline: one CreateTask call at a time.
	SequentialTasks     int     `json:"sequential_tasks"`
	SequentialTasksPerS float64 `json:"sequential_tasks_per_s"`
	SequentialRatio     float64 `json:"sequential_ratio"`
	// WorkerDeliveries counts worker tasks the queue delivered while the job fanned out.
	WorkerDeliveries int64 `json:"worker_deliveries"`
}

// benchFanout measures the Backfill function's fan-out alone: a job of videos x days tasks is
// posted and timed until every task is enqueued. The queue cannot be paused for this, because
// the fan-out itself runs through it (the first request creates expansion tasks that the queue
// delivers back to :expand); instead WORKER_URL points at a sink that answers 204 at once, so
// the worker tasks the queue dispatches meanwhile cost nearly nothing. The baseline is the
// naive way: the same tasks created with one CreateTask call at a time, in a paused queue of the
// same local Cloud Tasks.
func benchFanout(ctx context.Context, c FanoutConfig) (*FanoutResult, error) {
	var delivered atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()

	c.Log.Info("fan-out benchmark: starting the local stack with a sink for worker tasks")
	s, err := localstack.Start(ctx, localstack.Options{
		Project: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Log: c.Log, Logs: c.Logs, FunctionsBinary: c.Binary,
		Backfill: &localstack.BackfillOptions{Queue: c.Queue},
		// Unpaced (ENQUEUE_RATE 0): this measures how fast the method can create, against the
		// baselines' unpaced loops; a real job paces its creates (DefaultEnqueueRate).
		FunctionsEnv: withEnv(withEnv(c.FunctionsEnv, "WORKER_URL", sink.URL+"/RunBackfillTask"), "ENQUEUE_RATE", "0"),
	})
	if err != nil {
		return nil, fmt.Errorf("starting the local stack: %w", err)
	}
	defer s.Close()

	end := time.Now().UTC().AddDate(0, 0, -3)
	start := time.Now()
	job, err := sizedSpec(s, c.Videos, c.Days, end)
	if err != nil {
		return nil, err
	}
	created, err := s.StartBackfill(ctx, job)
	if err != nil {
		return nil, err
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(c.Timeout)
	var elapsed time.Duration
	for elapsed == 0 {
		st, err := s.BackfillStatus(ctx, created.JobID)
		if err == nil && st.Counts.Enqueued >= st.Counts.Planned {
			elapsed = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("job %s: not every task enqueued after %s (last error: %v)", created.JobID, c.Timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	res := &FanoutResult{Tasks: created.PlannedTasks, ElapsedS: elapsed.Seconds(), TasksPerS: float64(created.PlannedTasks) / elapsed.Seconds(),
		WorkerDeliveries: delivered.Load()}
	c.Log.Info("fan-out done", "tasks", res.Tasks, "after", elapsed.Round(time.Millisecond), "tasks_per_s", int(res.TasksPerS))
	// The rest of the job is of no interest: stop the queue's deliveries to the sink.
	if _, err := s.Backfill.TasksClient.PauseQueue(ctx, &cloudtaskspb.PauseQueueRequest{Name: s.Backfill.Queue}); err != nil {
		return nil, fmt.Errorf("pausing %s: %w", s.Backfill.Queue, err)
	}

	c.Log.Info("fan-out baseline: one CreateTask per task, same parallelism", "tasks", c.BaselineTasks, "parallelism", taskqueue.DefaultParallelism)
	n, belapsed, err := baselineCreates(ctx, s, c, end, "fanout-baseline-par", taskqueue.DefaultParallelism)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	res.BaselineParallelism, res.BaselineTasks = taskqueue.DefaultParallelism, n
	res.BaselineTasksPerS = float64(n) / belapsed.Seconds()
	res.Ratio = res.TasksPerS / res.BaselineTasksPerS
	c.Log.Info("fan-out baseline: one CreateTask at a time (the seed's loop)", "tasks", c.BaselineTasks)
	n, selapsed, err := baselineCreates(ctx, s, c, end, "fanout-baseline", 1)
	if err != nil {
		return nil, fmt.Errorf("sequential baseline: %w", err)
	}
	res.SequentialTasks = n
	res.SequentialTasksPerS = float64(n) / selapsed.Seconds()
	res.SequentialRatio = res.TasksPerS / res.SequentialTasksPerS
	return res, nil
}

// baselineCreates creates the job's first worker tasks (same bodies, same hashed names, same
// client and Enqueuer) with one CreateTask call per task and parallel calls in flight, in a
// paused queue so nothing dispatches.
func baselineCreates(ctx context.Context, s *localstack.Stack, c FanoutConfig, end time.Time, queue string, parallel int) (int, time.Duration, error) {
	parent := fmt.Sprintf("projects/%s/locations/%s", s.Project, localstack.Location)
	q, err := s.Backfill.TasksClient.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: parent,
		Queue: &cloudtaskspb.Queue{Name: parent + "/queues/" + queue, State: cloudtaskspb.Queue_PAUSED}})
	if err != nil {
		return 0, 0, fmt.Errorf("creating the baseline queue: %w", err)
	}
	job, err := sizedSpec(s, c.Videos, c.Days, end)
	if err != nil {
		return 0, 0, err
	}
	spec, err := backfill.ParseSpec(job, backfill.Limits{MaxTasks: c.Videos * c.Days})
	if err != nil {
		return 0, 0, err
	}
	plan, err := spec.Plan()
	if err != nil {
		return 0, 0, err
	}
	enq := taskqueue.New(s.Backfill.TasksClient, q.GetName(), taskqueue.WithParallelism(1), taskqueue.WithLogger(c.Log))
	n := min(c.BaselineTasks, plan.Tasks)
	tasks := make([]taskqueue.Task, n)
	for i := range tasks {
		body, err := encodeTask(plan.Task(i))
		if err != nil {
			return 0, 0, err
		}
		tasks[i] = taskqueue.Task{Name: plan.JobID + "/w0/" + strconv.Itoa(i), URL: "http://127.0.0.1:1/RunBackfillTask", Body: body,
			Headers: map[string]string{"Content-Type": "application/json"}}
	}
	next := make(chan taskqueue.Task)
	errs := make(chan error, parallel)
	start := time.Now()
	for range parallel {
		go func() {
			var first error
			for t := range next {
				// One call per task, each worker waiting for its last: the loop a first version
				// would write, run by parallel workers.
				if _, err := enq.Enqueue(ctx, []taskqueue.Task{t}); err != nil && first == nil {
					first = err
				}
			}
			errs <- first
		}()
	}
	for _, t := range tasks {
		next <- t
	}
	close(next)
	var first error
	for range parallel {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return 0, 0, first
	}
	return n, time.Since(start), nil
}

func printFanout(w io.Writer, f *FanoutResult) {
	if f == nil {
		return
	}
	name := fmt.Sprintf("fanout %d tasks", f.Tasks)
	fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f %7.1fx\n", name, fmt.Sprintf("tasks/s vs per-task CreateTask, %d in flight", f.BaselineParallelism), f.TasksPerS, f.BaselineTasksPerS, f.Ratio)
	fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f %7.1fx\n", name, "tasks/s vs the seed's loop, 1 at a time", f.TasksPerS, f.SequentialTasksPerS, f.SequentialRatio)
	fmt.Fprintf(w, "%-20s %-40s %14.1f\n", name, "until every task enqueued (s)", f.ElapsedS)
}

// encodeTask is the body the Backfill function gives a worker task.
func encodeTask(t backfill.TaskSpec) ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encoding task %d: %w", t.Index, err)
	}
	return b, nil
}

// withEnv returns a copy of env with k set to v.
func withEnv(env map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for ek, ev := range env {
		if ek != k {
			out[ek] = ev
		}
	}
	return out
}
