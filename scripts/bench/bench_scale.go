package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

// ScaleConfig sizes the scale benchmark (issue 27): a big job's fan-out over several queues,
// and a whole job run over several queues.
type ScaleConfig struct {
	// FanoutVideos x FanoutDays tasks are planned and enqueued over FanoutQueues queues.
	FanoutVideos, FanoutDays, FanoutQueues int
	// BaselineVideos x FanoutDays tasks are fanned out first, over the same queues, as the
	// run's baseline; 0 skips it.
	BaselineVideos int
	// Run is the whole-job run (benchBackfill) over Run.Queues queues; Run.Videos 0 skips it.
	Run     BackfillConfig
	Timeout time.Duration
	// FunctionsEnv adds to the fan-out's functions process's environment (a pprof address).
	FunctionsEnv map[string]string
	Log          *slog.Logger
	Logs         io.Writer
}

// ScaleFanout is what became of the big job's fan-out.
type ScaleFanout struct {
	Tasks     int     `json:"tasks"`
	Queues    int     `json:"queues"`
	EnqueueS  float64 `json:"enqueue_s"`
	TasksPerS float64 `json:"tasks_per_s"`
	// Enqueued is the job's count of enqueued tasks (RecordEnqueued, once per range).
	Enqueued int `json:"enqueued"`
	// Delivered tasks reached the worker sink before the queues were paused; Queued were still
	// in a queue. Distinct counts indexes seen either way, Duplicates indexes seen twice or more,
	// Misplaced tasks in another queue than index mod Queues.
	Delivered  int   `json:"delivered"`
	Queued     int   `json:"queued"`
	PerQueue   []int `json:"per_queue"`
	Distinct   int   `json:"distinct"`
	Duplicates int   `json:"duplicates"`
	Misplaced  int   `json:"misplaced"`
	// Redelivered are deliveries of a task already delivered (same X-CloudTasks-TaskName, a later
	// attempt: Cloud Tasks delivers at least once); SecondTasks are deliveries of another task
	// for an index already delivered (two tasks were created for it).
	Redelivered int `json:"redelivered"`
	SecondTasks int `json:"second_tasks"`
	// RetriedDeliveries are deliveries whose X-CloudTasks-TaskRetryCount is above 0.
	RetriedDeliveries int `json:"retried_deliveries"`
	// StateAfterCancel is the job's state once :cancel answered.
	StateAfterCancel string `json:"state_after_cancel"`
	// MaxRSSChildrenMB is the largest resident set of a process the bench started and waited
	// for (the functions process, the Firestore emulator); MaxRSSSelfMB is the bench's own
	// (the local Cloud Tasks holding every queued task runs in it).
	MaxRSSChildrenMB float64 `json:"max_rss_children_mb"`
	MaxRSSSelfMB     float64 `json:"max_rss_self_mb"`
	LoadStart        string  `json:"load_start"`
	LoadEnd          string  `json:"load_end"`
}

// ScaleResult is the scale benchmark's report.
type ScaleResult struct {
	// Baseline is the smaller fan-out run first (BaselineVideos), nil when skipped.
	Baseline *ScaleFanout    `json:"baseline,omitempty"`
	Fanout   *ScaleFanout    `json:"fanout"`
	Run      *BackfillResult `json:"run,omitempty"`
	// RunQueues is how many queues the whole-job run spread over.
	RunQueues int `json:"run_queues,omitempty"`
	// RunLoadStart and RunLoadEnd are the load averages around the whole-job run.
	RunLoadStart string `json:"run_load_start,omitempty"`
	RunLoadEnd   string `json:"run_load_end,omitempty"`
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:3], " ")
}

func maxRSSMB(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

// benchScale runs the fan-out of a big job over several queues, then the whole-job run.
func benchScale(ctx context.Context, c ScaleConfig) (*ScaleResult, error) {
	res := &ScaleResult{RunQueues: c.Run.Queues}
	if c.BaselineVideos > 0 {
		b := c
		b.FanoutVideos = c.BaselineVideos
		var err error
		if res.Baseline, err = scaleFanout(ctx, b); err != nil {
			return nil, fmt.Errorf("baseline fan-out: %w", err)
		}
	}
	f, err := scaleFanout(ctx, c)
	if err != nil {
		return nil, err
	}
	res.Fanout = f
	if c.Run.Videos > 0 {
		res.RunLoadStart = loadavg()
		if res.Run, err = benchBackfill(ctx, c.Run); err != nil {
			return nil, fmt.Errorf("whole-job run over %d queues: %w", c.Run.Queues, err)
		}
		res.RunLoadEnd = loadavg()
	}
	return res, nil
}

// scaleFanout plans and enqueues a job of FanoutVideos x FanoutDays tasks over FanoutQueues
// queues, with worker tasks sent to a sink that counts each index (the fan-out runs through
// the queues, so they cannot be paused while it runs). Once every range is counted enqueued,
// the queues are paused and drained of in-flight dispatches, every queued task is read back,
// and each index must have been seen exactly once, in queue index mod FanoutQueues. Then the
// job is cancelled.
func scaleFanout(ctx context.Context, c ScaleConfig) (*ScaleFanout, error) {
	tasks := c.FanoutVideos * c.FanoutDays
	res := &ScaleFanout{Tasks: tasks, Queues: c.FanoutQueues, LoadStart: loadavg()}
	var mu sync.Mutex
	seen := make([]uint8, tasks)
	names := make([]uint64, tasks) // FNV-1a of the first delivery's task name
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ts struct {
			Index int `json:"index"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ts); err == nil && ts.Index >= 0 && ts.Index < tasks {
			h := fnv.New64a()
			h.Write([]byte(r.Header.Get("X-CloudTasks-TaskName")))
			name := h.Sum64()
			mu.Lock()
			switch {
			case seen[ts.Index] == 0:
				names[ts.Index] = name
			case names[ts.Index] == name:
				res.Redelivered++
			default:
				res.SecondTasks++
			}
			if rc := r.Header.Get("X-CloudTasks-TaskRetryCount"); rc != "" && rc != "0" {
				res.RetriedDeliveries++
			}
			seen[ts.Index]++
			res.Delivered++
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sink.Close()

	q, err := localstack.DefaultQueueConfig()
	if err != nil {
		return nil, err
	}
	q.MaxDispatchesPerSecond, q.MaxConcurrentDispatches = 500, 1000
	c.Log.Info("scale benchmark: starting the local stack", "tasks", tasks, "queues", c.FanoutQueues)
	env := map[string]string{"WORKER_URL": sink.URL + "/RunBackfillTask"}
	for k, v := range c.FunctionsEnv {
		env[k] = v
	}
	s, err := localstack.Start(ctx, localstack.Options{
		Project: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Log: c.Log, Logs: c.Logs,
		Backfill:     &localstack.BackfillOptions{Queue: q, Queues: c.FanoutQueues},
		FunctionsEnv: env,
	})
	if err != nil {
		return nil, fmt.Errorf("starting the local stack: %w", err)
	}
	defer s.Close()
	if s.Backfill.Tasks == nil {
		return nil, fmt.Errorf("the scale benchmark needs the stack's own Cloud Tasks (unset CLOUD_TASKS_EMULATOR_HOST)")
	}

	start := time.Now()
	job, err := sizedSpec(s, c.FanoutVideos, c.FanoutDays, time.Now().UTC().AddDate(0, 0, -3))
	if err != nil {
		return nil, err
	}
	created, err := s.StartBackfill(ctx, job)
	if err != nil {
		return nil, err
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(c.Timeout)
	for {
		st, err := s.BackfillStatus(ctx, created.JobID)
		if err == nil && st.Counts.Enqueued >= st.Counts.Planned {
			res.Enqueued = st.Counts.Enqueued
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
	elapsed := time.Since(start)
	res.EnqueueS, res.TasksPerS = elapsed.Seconds(), float64(tasks)/elapsed.Seconds()
	c.Log.Info("scale benchmark: every range enqueued", "after", elapsed.Round(time.Millisecond))

	for _, name := range s.Backfill.Queues {
		if _, err := s.Backfill.TasksClient.PauseQueue(ctx, &cloudtaskspb.PauseQueueRequest{Name: name}); err != nil {
			return nil, fmt.Errorf("pausing %s: %w", name, err)
		}
	}
	for {
		busy := 0
		for _, name := range s.Backfill.Queues {
			busy += s.Backfill.Tasks.InFlight(name)
		}
		if busy == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for k, name := range s.Backfill.Queues {
		queued := s.Backfill.Tasks.Tasks(name)
		res.PerQueue = append(res.PerQueue, len(queued))
		for _, t := range queued {
			var ts struct {
				Index *int `json:"index"`
			}
			if err := json.Unmarshal(t.GetHttpRequest().GetBody(), &ts); err != nil || ts.Index == nil {
				continue // an expansion task: the fan-out is done, so none should be left
			}
			i := *ts.Index
			if i < 0 || i >= tasks {
				continue
			}
			seen[i]++
			res.Queued++
			if i%c.FanoutQueues != k {
				res.Misplaced++
			}
		}
	}
	for _, n := range seen {
		if n > 0 {
			res.Distinct++
		}
		if n > 1 {
			res.Duplicates++
		}
	}
	if err := s.BackfillAction(ctx, created.JobID, "cancel"); err != nil {
		return nil, fmt.Errorf("cancelling %s: %w", created.JobID, err)
	}
	st, err := s.BackfillStatus(ctx, created.JobID)
	if err != nil {
		return nil, err
	}
	res.StateAfterCancel = st.State
	res.MaxRSSChildrenMB, res.MaxRSSSelfMB = maxRSSMB(syscall.RUSAGE_CHILDREN), maxRSSMB(syscall.RUSAGE_SELF)
	res.LoadEnd = loadavg()
	return res, nil
}

func printScale(w io.Writer, r *ScaleResult) {
	for _, f := range []*ScaleFanout{r.Baseline, r.Fanout} {
		if f != nil {
			printScaleFanout(w, f)
		}
	}
	if b := r.Run; b != nil {
		fmt.Fprintf(w, "scale run: %d tasks over %d queues: %s in %.1f s (%.0f tasks/s), lost %d, duplicated %d; load %s -> %s\n",
			b.Tasks, r.RunQueues, b.State, b.ElapsedS, b.TasksPerS, b.Lost, b.Duplicated, r.RunLoadStart, r.RunLoadEnd)
	}
}

func printScaleFanout(w io.Writer, f *ScaleFanout) {
	fmt.Fprintf(w, "scale fan-out: %d tasks over %d queues enqueued in %.1f s (%.0f/s); enqueued %d, delivered %d + queued %d (per queue %v) = %d distinct, %d duplicated (%d redelivered, %d second tasks; %d deliveries with a retry count), %d misplaced; after :cancel %s; max RSS children %.0f MB, self %.0f MB; load %s -> %s\n",
		f.Tasks, f.Queues, f.EnqueueS, f.TasksPerS, f.Enqueued, f.Delivered, f.Queued, f.PerQueue, f.Distinct, f.Duplicates, f.Redelivered, f.SecondTasks, f.RetriedDeliveries, f.Misplaced, f.StateAfterCancel, f.MaxRSSChildrenMB, f.MaxRSSSelfMB, f.LoadStart, f.LoadEnd)
}
