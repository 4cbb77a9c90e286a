package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/functions/runbackfilltask"
	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// BackfillConfig sizes the backfill benchmark and the fake API it runs against.
type BackfillConfig struct {
	Videos, Days int
	// Latency, FailRate and TokenTTL shape the source's fake API.
	Latency  time.Duration
	FailRate float64
	TokenTTL time.Duration
	// Queue is the backfill queue, passed to the stack explicitly.
	Queue localstack.QueueConfig
	// Queues is how many backfill queues the job spreads over (0: one).
	Queues int
	// BaselineQueries is how many sequential queries the baseline loop makes.
	BaselineQueries int
	// Timeout bounds each job's run.
	Timeout time.Duration
	// Binary is a prebuilt functions binary; empty builds one.
	Binary string
	// FunctionsEnv adds to the functions process's environment (a pprof address).
	FunctionsEnv map[string]string
	Log          *slog.Logger
	Logs         io.Writer
}

// QueueJSON is the queue a run used, as printed.
type QueueJSON struct {
	MaxDispatchesPerSecond  float64 `json:"max_dispatches_per_second"`
	MaxConcurrentDispatches int     `json:"max_concurrent_dispatches"`
	MaxAttempts             int     `json:"max_attempts"`
	MinBackoffS             float64 `json:"min_backoff_s"`
	MaxBackoffS             float64 `json:"max_backoff_s"`
}

// BackfillResult is the day plan's run through the local stack, the range plan's, and the
// sequential baseline.
type BackfillResult struct {
	Videos           int       `json:"videos"`
	Days             int       `json:"days"`
	Queue            QueueJSON `json:"queue"`
	LatencyMs        float64   `json:"api_latency_ms"`
	FailRate         float64   `json:"api_503_rate"`
	TokenTTLS        float64   `json:"token_ttl_s"`
	Tasks            int       `json:"tasks"`
	ElapsedS         float64   `json:"elapsed_s"`
	TasksPerS        float64   `json:"tasks_per_s"`
	EnqueueS         float64   `json:"enqueue_s"`
	EnqueueTasksPerS float64   `json:"enqueue_tasks_per_s"`
	State            string    `json:"state"`
	Failed           int       `json:"failed"`
	Rows             int       `json:"rows"`
	// Lost and Duplicated are the planned rows missing from backfill_rows_dedup, and its rows
	// beyond one per key: what a reader of the job's rows sees.
	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`
	// RawReappends is rows appended to backfill_rows more than once (a task run again after its
	// rows were appended: its outcome commit failed or its answer was lost); the dedup view
	// hides them.
	RawReappends int `json:"raw_reappends"`
	// Dispatches is the queue's attempts of the day plan's job by answer ("200", "503"...; worker
	// tasks and expansion tasks), counted from the local Cloud Tasks' records.
	Dispatches     map[string]int `json:"dispatches,omitempty"`
	APICalls       int            `json:"api_calls"`
	API503s        int            `json:"api_503s"`
	TokenRefreshes int            `json:"token_refreshes"`
	// TenthRates is completions per second in each tenth of the day plan's job (see tenthRates),
	// and LastFirst the last tenth's rate over the first's.
	TenthRates []float64 `json:"tenth_rates"`
	LastFirst  float64   `json:"last_first_ratio"`
	// FirestoreOps is what the day plan's job asked of Firestore (the functions and the
	// bench's status polls), counted by a proxy in front of the emulator.
	FirestoreOps *FirestoreOps `json:"firestore_ops,omitempty"`
	// EmulatorRSSMB is the Firestore emulator's resident memory when the day plan's job ended.
	EmulatorRSSMB float64 `json:"emulator_rss_mb"`
	// LoadStart and LoadEnd are the machine's 1-minute load average when the job was posted and
	// when it ended: other work on the machine shares its CPUs.
	LoadStart float64 `json:"load_avg_start"`
	LoadEnd   float64 `json:"load_avg_end"`
	// Baseline is the original way: one query at a time through the source's fetcher, in a loop.
	BaselineQueries   int          `json:"baseline_queries"`
	BaselineTasksPerS float64      `json:"baseline_tasks_per_s"`
	Ratio             float64      `json:"ratio"`
	Range             *RangeResult `json:"range"`
	// Targets says which of the brief's targets this run met.
	Targets map[string]bool `json:"targets"`
}

// RangeResult is the same job planned with chunk range: one query per video.
type RangeResult struct {
	Tasks      int     `json:"tasks"`
	APICalls   int     `json:"api_calls"`
	ElapsedS   float64 `json:"elapsed_s"`
	Rows       int     `json:"rows"`
	Lost       int     `json:"lost"`
	Duplicated int     `json:"duplicated"`
	// RawReappends: see BackfillResult.
	RawReappends int `json:"raw_reappends"`
}

// fakeOptions are the fake API's faults for a config.
func (c BackfillConfig) fakeOptions() []sourcestest.Option {
	return []sourcestest.Option{sourcestest.WithLatency(c.Latency), sourcestest.WithFailRate(c.FailRate), sourcestest.WithTokenTTL(c.TokenTTL)}
}

// benchBackfill runs the day plan of videos x days through the local stack (the Backfill
// function's fan-out, local Cloud Tasks, RunBackfillTask, the Firestore emulator, the local
// BigQuery) against the fake API of the first registered source whose kit has sizes
// (localstack.SizedSource), then the range plan of the same job, then the baseline: the same
// queries one at a time through the same fetcher code.
func benchBackfill(ctx context.Context, c BackfillConfig) (*BackfillResult, error) {
	source, err := localstack.SizedSource()
	if err != nil {
		return nil, err
	}
	kit := localstack.SourceKits[source]
	q := c.Queue
	res := &BackfillResult{Videos: c.Videos, Days: c.Days, LatencyMs: ms(c.Latency), FailRate: c.FailRate, TokenTTLS: c.TokenTTL.Seconds(),
		Queue: QueueJSON{MaxDispatchesPerSecond: q.MaxDispatchesPerSecond, MaxConcurrentDispatches: q.MaxConcurrentDispatches,
			MaxAttempts: q.MaxAttempts, MinBackoffS: q.MinBackoff.Seconds(), MaxBackoffS: q.MaxBackoff.Seconds()}}
	// The bench starts the Firestore emulator itself, behind a proxy that counts operations, and
	// the stack uses it through FIRESTORE_EMULATOR_HOST.
	c.Log.Info("backfill benchmark: starting the Firestore emulator")
	fsEm, err := gcloudemu.Start(ctx, gcloudemu.Firestore, gcloudemu.WithOutput(c.Logs), gcloudemu.WithStartTimeout(5*time.Minute))
	if err != nil {
		return nil, err
	}
	defer fsEm.Stop()
	proxy, err := startOpsProxy(fsEm.Host)
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	prevHost, hadHost := os.LookupEnv("FIRESTORE_EMULATOR_HOST")
	os.Setenv("FIRESTORE_EMULATOR_HOST", proxy.Addr)
	defer func() {
		if hadHost {
			os.Setenv("FIRESTORE_EMULATOR_HOST", prevHost)
		} else {
			os.Unsetenv("FIRESTORE_EMULATOR_HOST")
		}
	}()
	_, emPort, _ := net.SplitHostPort(fsEm.Host)
	if os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		// Started here too, for the same patience on a loaded machine; the stack reuses it.
		psEm, err := gcloudemu.Start(ctx, gcloudemu.PubSub, gcloudemu.WithOutput(c.Logs), gcloudemu.WithStartTimeout(5*time.Minute))
		if err != nil {
			return nil, err
		}
		defer psEm.Stop()
		os.Setenv("PUBSUB_EMULATOR_HOST", psEm.Host)
		defer os.Unsetenv("PUBSUB_EMULATOR_HOST")
	}

	c.Log.Info("backfill benchmark: starting the local stack", "queue", fmt.Sprintf("%+v", q))
	s, err := localstack.Start(ctx, localstack.Options{
		Project: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Log: c.Log, Logs: c.Logs, FunctionsBinary: c.Binary, FunctionsEnv: c.FunctionsEnv,
		Backfill: &localstack.BackfillOptions{Queue: q, Queues: c.Queues, Fakes: map[string][]sourcestest.Option{source: c.fakeOptions()}},
	})
	if err != nil {
		return nil, fmt.Errorf("starting the local stack: %w", err)
	}
	defer s.Close()

	end := time.Now().UTC().AddDate(0, 0, -3)
	daySpec, expected := kit.Sized(s.Backfill, c.Videos, c.Days, backfill.ChunkDay, end)
	rangeSpec, _ := kit.Sized(s.Backfill, c.Videos, c.Days, backfill.ChunkRange, end)
	// The queue alone needs expected/500 s: a job of 500,000 tasks outlasts the default bound, so
	// the bound grows with the job (10 ms a task), never below the flag.
	c.Timeout = max(c.Timeout, time.Duration(expected)*10*time.Millisecond)
	opsBefore := proxy.Snapshot()
	res.LoadStart = loadAverage()
	day, err := runJob(ctx, s, c, daySpec, expected)
	if err != nil {
		return nil, fmt.Errorf("day plan: %w", err)
	}
	res.LoadEnd = loadAverage()
	ops := proxy.Snapshot().Sub(opsBefore)
	res.FirestoreOps = &ops
	if res.EmulatorRSSMB, err = javaRSSMB(emPort); err != nil {
		c.Log.Warn("reading the Firestore emulator's memory", "error", err)
	}
	res.TenthRates = tenthRates(day.samples, day.tasks)
	if len(res.TenthRates) == 10 && res.TenthRates[0] > 0 {
		res.LastFirst = res.TenthRates[9] / res.TenthRates[0]
	}
	c.Log.Info("day plan shape", "tenth_rates", fmt.Sprintf("%.0f", res.TenthRates), "last_first", fmt.Sprintf("%.2f", res.LastFirst),
		"firestore", ops.String(), "writes", ops.Writes, "reads", ops.Reads, "emulator_rss_mb", int(res.EmulatorRSSMB),
		"load_start", res.LoadStart, "load_end", res.LoadEnd)
	res.Tasks, res.ElapsedS, res.State, res.Failed = day.tasks, day.elapsed.Seconds(), day.state, day.failed
	res.TasksPerS = float64(day.tasks) / day.elapsed.Seconds()
	res.EnqueueS = day.enqueue.Seconds()
	res.EnqueueTasksPerS = float64(day.tasks) / day.enqueue.Seconds()
	res.Rows, res.Lost, res.Duplicated, res.RawReappends, res.APICalls = day.rows, day.lost, day.duplicated, day.reappends, day.apiCalls
	res.Dispatches = day.dispatches
	st := s.Backfill.Fake(source).Counts()
	res.API503s, res.TokenRefreshes = st.ByStatus[503], st.TokenRefreshes

	rng, err := runJob(ctx, s, c, rangeSpec, expected)
	if err != nil {
		return nil, fmt.Errorf("range plan: %w", err)
	}
	res.Range = &RangeResult{Tasks: rng.tasks, APICalls: rng.apiCalls, ElapsedS: rng.elapsed.Seconds(), Rows: rng.rows, Lost: rng.lost, Duplicated: rng.duplicated,
		RawReappends: rng.reappends}

	c.Log.Info("backfill baseline: one query at a time", "queries", c.BaselineQueries)
	n, elapsed, err := sequentialQueries(ctx, source, s.Backfill.Fake(source), daySpec, c)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	res.BaselineQueries = n
	res.BaselineTasksPerS = float64(n) / elapsed.Seconds()
	res.Ratio = res.TasksPerS / res.BaselineTasksPerS
	res.Targets = map[string]bool{
		"nothing_lost_or_duplicated": res.Lost == 0 && res.Duplicated == 0 && res.Range.Lost == 0 && res.Range.Duplicated == 0,
		"enqueue_2000_per_s":         res.EnqueueTasksPerS >= 2000,
		"within_300_s":               res.ElapsedS <= 300,
		"40x_sequential":             res.Ratio >= 40,
		"last_tenth_80pct_of_first":  res.LastFirst >= 0.8,
	}
	return res, nil
}

// jobRun is what one job did.
type jobRun struct {
	tasks, failed, apiCalls int
	state                   string
	enqueue, elapsed        time.Duration
	rows, lost, duplicated  int
	reappends               int
	dispatches              map[string]int
	samples                 []progressSample
}

// runJob posts a spec, times the fan-out (until every task is enqueued) and the whole job (until
// every task has a final outcome), then counts its rows in BigQuery.
func runJob(ctx context.Context, s *localstack.Stack, c BackfillConfig, spec []byte, expectedRows int) (*jobRun, error) {
	start := time.Now()
	created, err := s.StartBackfill(ctx, spec)
	if err != nil {
		return nil, err
	}
	c.Log.Info("backfill job created", "job", created.JobID, "planned", created.PlannedTasks, "api_calls_estimate", created.APICalls,
		"after", time.Since(start).Round(time.Millisecond))
	r := &jobRun{tasks: created.PlannedTasks}

	// The fan-out is timed by polling the job's enqueued count often: the error is one poll.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(c.Timeout)
	for r.enqueue == 0 {
		asked := time.Since(start)
		st, err := s.BackfillStatus(ctx, created.JobID)
		if err == nil {
			// Tasks finish while the fan-out runs: sample them too, or the first tenth would start
			// only once every task is enqueued. A count is read between asking and answering, so
			// it is stamped at the middle (a slow answer would otherwise shorten the interval).
			r.samples = append(r.samples, progressSample{at: (asked + time.Since(start)) / 2,
				finished: st.Counts.Succeeded + st.Counts.Failed + st.Counts.Cancelled})
		}
		if err == nil && st.Counts.Enqueued >= st.Counts.Planned {
			r.enqueue = time.Since(start)
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
	c.Log.Info("every task enqueued", "job", created.JobID, "tasks", r.tasks, "after", r.enqueue.Round(time.Millisecond),
		"tasks_per_s", int(float64(r.tasks)/r.enqueue.Seconds()))

	last := time.Now()
	st, err := s.WaitBackfill(ctx, created.JobID, time.Until(deadline), func(st *backfill.Status) {
		r.samples = append(r.samples, progressSample{at: time.Since(start),
			finished: st.Counts.Succeeded + st.Counts.Failed + st.Counts.Cancelled})
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			c.Log.Info("backfill progress", "job", created.JobID, "succeeded", st.Counts.Succeeded, "failed", st.Counts.Failed,
				"retrying", st.Counts.Retrying, "planned", st.Counts.Planned, "rate", int(st.RatePerSec), "after", time.Since(start).Round(time.Second))
		}
	})
	if err != nil {
		return nil, err
	}
	r.elapsed = time.Since(start)
	r.state, r.failed, r.apiCalls = st.State, st.Counts.Failed, st.Counts.APICalls
	truth, err := s.BackfillRows(ctx, created.JobID)
	if err != nil {
		return nil, err
	}
	dedup, err := dedupKeys(ctx, s, created.JobID)
	if err != nil {
		return nil, err
	}
	r.rows, r.reappends = truth.Rows, truth.Rows-truth.Keys
	r.lost, r.duplicated = expectedRows-dedup, truth.DedupRows-dedup
	r.dispatches = dispatches(s, start)
	c.Log.Info("backfill job ended", "job", created.JobID, "state", st.State, "elapsed", r.elapsed.Round(time.Millisecond),
		"rows", truth.Rows, "keys", truth.Keys, "dedup_rows", truth.DedupRows, "dedup_keys", dedup, "api_calls", st.Counts.APICalls,
		"dispatches", fmt.Sprint(r.dispatches))
	return r, nil
}

// dedupKeys counts the distinct keys of a job's rows in backfill_rows_dedup.
func dedupKeys(ctx context.Context, s *localstack.Stack, job string) (int, error) {
	q := fmt.Sprintf("SELECT COUNT(*) AS k FROM (SELECT DISTINCT shard, row_index FROM `%s.%s.%s_dedup` WHERE job_id = '%s')",
		s.Project, s.Dataset, warehouse.TableBackfillRows, job)
	r, err := s.Query(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("counting the dedup view's keys of backfill %s: %w", job, err)
	}
	return int(r.Int(0, "k")), nil
}

// dispatches counts the queue's attempts since start by answer, worker and expansion tasks
// apart ("expansion 200"). The local Cloud Tasks keeps its last 100,000 records (halving when
// full), so a bigger job's counts are of its last attempts only: "kept" says how many.
func dispatches(s *localstack.Stack, start time.Time) map[string]int {
	if s.Backfill == nil || s.Backfill.Tasks == nil {
		return nil
	}
	out := map[string]int{}
	for _, r := range s.Backfill.Tasks.Dispatched() {
		if r.DispatchTime.Before(start) {
			continue
		}
		out["kept"]++
		key := fmt.Sprint(r.StatusCode)
		if !strings.HasSuffix(r.URL, "/RunBackfillTask") {
			key = "expansion " + key
		}
		out[key]++
	}
	return out
}

// sequentialQueries is the original way: the day plan's first queries, one at a time, each
// retried until it succeeds (as a loop must), through the source's own fetcher (what the worker
// runs) pointed at the same fake API by the settings of the fake's environment.
func sequentialQueries(ctx context.Context, source string, fake sourcestest.Fake, job []byte, c BackfillConfig) (int, time.Duration, error) {
	src, ok := backfill.Lookup(source)
	if !ok {
		return 0, 0, fmt.Errorf("%s is not a registered source", source)
	}
	spec, err := backfill.ParseSpec(job, backfill.Limits{MaxTasks: c.Videos * c.Days})
	if err != nil {
		return 0, 0, err
	}
	plan, err := spec.Plan()
	if err != nil {
		return 0, 0, err
	}
	fakeEnv := fake.Env()
	env := config.New(func(k string) (string, bool) { v, ok := fakeEnv[k]; return v, ok })
	settings := backfill.ReadSettings(env, false)
	if err := env.Err(); err != nil {
		return 0, 0, fmt.Errorf("reading the settings of %s's fake: %w", source, err)
	}
	fetcher := src.NewFetcher(backfill.Deps{Settings: settings[source], AllowPrivateHosts: true, // the fake listens on 127.0.0.1
		APITimeout: runbackfilltask.DefaultAPITimeout, Logger: slog.New(slog.DiscardHandler)})
	n := min(c.BaselineQueries, plan.Tasks)
	start := time.Now()
	for i := range n {
		for attempt := 1; ; attempt++ {
			_, err := fetcher.Fetch(ctx, plan.Task(i))
			if err == nil {
				break
			}
			if sources.KindOf(err) != sources.Transient || attempt == 10 {
				return 0, 0, fmt.Errorf("query %d: %w", i, err)
			}
		}
	}
	return n, time.Since(start), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printBackfill(w io.Writer, b *BackfillResult) {
	if b == nil {
		return
	}
	name := fmt.Sprintf("backfill %dx%d", b.Videos, b.Days)
	fmt.Fprintf(w, "%-20s queue: %.0f dispatches/s, %d concurrent, %d attempts, backoff %.0fs-%.0fs; API %.0f ms, %.0f%% 503s, tokens %.0fs\n",
		name, b.Queue.MaxDispatchesPerSecond, b.Queue.MaxConcurrentDispatches, b.Queue.MaxAttempts, b.Queue.MinBackoffS, b.Queue.MaxBackoffS,
		b.LatencyMs, b.FailRate*100, b.TokenTTLS)
	fmt.Fprintf(w, "%-20s %-40s %14.0f %14.1f %7.1fx\n", name, "tasks/s (queue vs one query at a time)", b.TasksPerS, b.BaselineTasksPerS, b.Ratio)
	fmt.Fprintf(w, "%-20s %-40s %14d\n", name, "tasks", b.Tasks)
	fmt.Fprintf(w, "%-20s %-40s %14.1f\n", name, "end to end (s)", b.ElapsedS)
	fmt.Fprintf(w, "%-20s %-40s %14.0f\n", name, "enqueue rate (tasks/s)", b.EnqueueTasksPerS)
	fmt.Fprintf(w, "%-20s %-40s %14d\n", name, "lost rows (dedup view)", b.Lost)
	fmt.Fprintf(w, "%-20s %-40s %14d\n", name, "duplicated rows (dedup view)", b.Duplicated)
	fmt.Fprintf(w, "%-20s %-40s %14d\n", name, "raw re-appends (hidden by the dedup view)", b.RawReappends)
	if len(b.Dispatches) > 0 {
		fmt.Fprintf(w, "%-20s %-40s %s\n", name, "queue dispatches by answer", fmt.Sprint(b.Dispatches))
	}
	fmt.Fprintf(w, "%-20s %-40s %14s\n", name, "API calls (503s among them)", fmt.Sprintf("%d (%d)", b.APICalls, b.API503s))
	if r := b.Range; r != nil {
		fmt.Fprintf(w, "%-20s %-40s %14d\n", name, "range plan: API calls", r.APICalls)
		fmt.Fprintf(w, "%-20s %-40s %14.1f\n", name, "range plan: end to end (s)", r.ElapsedS)
		fmt.Fprintf(w, "%-20s %-40s %14s\n", name, "range plan: lost / duplicated / re-appended", fmt.Sprintf("%d / %d / %d", r.Lost, r.Duplicated, r.RawReappends))
	}
	if len(b.TenthRates) > 0 {
		fmt.Fprintf(w, "%-20s %-40s %14s\n", name, "completions/s per tenth of the job", fmt.Sprintf("%.0f", b.TenthRates))
		fmt.Fprintf(w, "%-20s %-40s %14.2f\n", name, "last tenth / first tenth", b.LastFirst)
	}
	if o := b.FirestoreOps; o != nil && b.Tasks > 0 {
		n := float64(b.Tasks)
		fmt.Fprintf(w, "%-20s %-40s %14s\n", name, "Firestore writes / reads / commits per task",
			fmt.Sprintf("%.2f / %.2f / %.2f", float64(o.Writes)/n, float64(o.Reads)/n, float64(o.Calls["Commit"])/n))
		fmt.Fprintf(w, "%-20s %-40s %s\n", name, "Firestore calls", o.String())
	}
	if b.EmulatorRSSMB > 0 {
		fmt.Fprintf(w, "%-20s %-40s %14.0f\n", name, "Firestore emulator RSS at the end (MB)", b.EmulatorRSSMB)
	}
	fmt.Fprintf(w, "%-20s %-40s %14s\n", name, "load average at start / end", fmt.Sprintf("%.1f / %.1f", b.LoadStart, b.LoadEnd))
	for _, k := range []string{"nothing_lost_or_duplicated", "enqueue_2000_per_s", "within_300_s", "40x_sequential", "last_tenth_80pct_of_first"} {
		if met, ok := b.Targets[k]; ok {
			fmt.Fprintf(w, "%-20s %-40s %14s\n", name, "target "+k, map[bool]string{true: "met", false: "MISSED"}[met])
		}
	}
}
