package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"cloud.google.com/go/firestore"

	backfillfn "github.com/pipelinekit/pipelinekit/functions/backfill"
	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
	"github.com/pipelinekit/pipelinekit/shared/firestorereads"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// SweepConfig sizes the sweep benchmark.
type SweepConfig struct {
	// Tasks is the big job's size, whose sweep's peak RSS is measured (MAX_TASKS' default: 1,000,000).
	Tasks int
	// StatusTasks is the quiet job's size, whose status calls' reads are counted.
	StatusTasks int
	// StatusCalls is how many status calls are counted, one per 5 s of the sweep's clock (the
	// deck's poll): 180 span one SWEEP_AFTER.
	StatusCalls int
	Log         *slog.Logger
	Logs        io.Writer
}

// SweepResult is what a sweep of a big job holds and what status calls of a quiet job read.
type SweepResult struct {
	Tasks    int      `json:"tasks"`
	SeedS    float64  `json:"seed_s"`
	Paged    SweepRun `json:"paged_walk"`
	Baseline SweepRun `json:"listing_baseline"`

	StatusTasks int `json:"status_tasks"`
	StatusCalls int `json:"status_calls"`
	// StatusReadsMean and StatusReadsMax are documents read per status call of the quiet job
	// (the calls that sweep included); StatusSweeps is how many of the calls swept.
	StatusReadsMean float64 `json:"status_reads_mean"`
	StatusReadsMax  int64   `json:"status_reads_max"`
	StatusSweeps    int     `json:"status_sweeps"`
	// BaselineStatusReads is what one status call read before: the status and a listing of
	// every shard (a lower bound: it also re-read the status and checked 50 shards).
	BaselineStatusReads int64 `json:"baseline_status_reads"`
}

// SweepRun is one search for a big job's unfinished shards, in a process of its own.
type SweepRun struct {
	// PeakRSSMB is the process's VmHWM: its peak resident memory, start-up included.
	PeakRSSMB float64 `json:"peak_rss_mb"`
	Reads     int64   `json:"reads"`
	Found     int     `json:"found"`
	Seconds   float64 `json:"seconds"`
}

// sweepChildEnv makes the bench binary run one search (paged or listing) and print its SweepRun.
const sweepChildEnv = "PIPELINEKIT_BENCH_SWEEP_CHILD"

// The child's inputs, set by the parent.
const (
	sweepChildProject = "PIPELINEKIT_BENCH_SWEEP_PROJECT"
	sweepChildJob     = "PIPELINEKIT_BENCH_SWEEP_JOB"
	sweepChildTasks   = "PIPELINEKIT_BENCH_SWEEP_TASKS"
)

func init() {
	if mode := os.Getenv(sweepChildEnv); mode != "" {
		os.Exit(sweepChild(mode))
	}
}

// benchSweep seeds a job of c.Tasks shard documents and measures, each in a child process, the
// sweep's search for unfinished shards (backfill.Store.UnfinishedFrom with the sweep's budgets)
// and the search it replaced (listUnfinished); then the reads of status calls of a quiet job.
func benchSweep(ctx context.Context, c SweepConfig) (*SweepResult, error) {
	stop, err := firestoreEmulator(ctx, c.Log, c.Logs)
	if err != nil {
		return nil, err
	}
	defer stop()
	project := fmt.Sprintf("bench-sweep-%d", time.Now().UnixNano())
	client, err := firestore.NewClient(ctx, project)
	if err != nil {
		return nil, fmt.Errorf("creating the Firestore client: %w", err)
	}
	defer client.Close()
	res := &SweepResult{Tasks: c.Tasks, StatusTasks: c.StatusTasks, StatusCalls: c.StatusCalls}

	c.Log.Info("sweep: seeding shard documents", "tasks", c.Tasks)
	start := time.Now()
	const job = "bf-00000000000bench"
	if err := seedSweepShards(ctx, client, job, c.Tasks); err != nil {
		return nil, err
	}
	res.SeedS = time.Since(start).Seconds()
	for _, run := range []struct {
		mode string
		out  *SweepRun
	}{{"listing", &res.Baseline}, {"paged", &res.Paged}} {
		c.Log.Info("sweep: searching in a child process", "mode", run.mode)
		if *run.out, err = runSweepChild(ctx, run.mode, project, job, c.Tasks); err != nil {
			return nil, err
		}
	}

	c.Log.Info("sweep: status calls of a quiet job", "tasks", c.StatusTasks, "calls", c.StatusCalls)
	if err := benchStatusReads(ctx, c, res); err != nil {
		return nil, err
	}
	return res, nil
}

// seedSweepShards writes the big job's shard documents: most succeeded, every 1,000th index
// without a document (its task recorded nothing) and every 1,000th + 500 retrying. The
// documents hold only state, the one field the search reads (it selects only state, so what it
// holds per document is the same for a full shard document).
func seedSweepShards(ctx context.Context, client *firestore.Client, job string, tasks int) error {
	return seedShardDocs(ctx, client, job, tasks, func(i int) map[string]any {
		switch i % 1000 {
		case 0:
			return nil
		case 500:
			return map[string]any{"state": backfill.ShardRetrying}
		}
		return map[string]any{"state": backfill.ShardSucceeded}
	})
}

// seedShardDocs writes doc(i) as shard document i of the job (none when nil) in batches of
// 500 from 8 goroutines: the emulator's fastest way in (BulkWriter paces itself at 500
// writes/s to start, as production's ramp-up asks).
func seedShardDocs(ctx context.Context, client *firestore.Client, job string, tasks int, doc func(int) map[string]any) error {
	shards := client.Collection(backfill.Collection).Doc(job).Collection("shards")
	const batch, writers = 500, 8
	from := make(chan int)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for f := range from {
				if errs[w] != nil {
					continue
				}
				b := client.Batch()
				for i := f; i < min(f+batch, tasks); i++ {
					if d := doc(i); d != nil {
						b.Set(shards.Doc(backfill.ShardDocID(i)), d)
					}
				}
				if _, err := b.Commit(ctx); err != nil {
					errs[w] = fmt.Errorf("seeding shards [%d, %d): %w", f, min(f+batch, tasks), err)
				}
			}
		})
	}
	for f := 0; f < tasks; f += batch {
		from <- f
	}
	close(from)
	wg.Wait()
	return errors.Join(errs...)
}

// runSweepChild runs this binary as a child that searches the job's unfinished shards, and
// returns what it reported.
func runSweepChild(ctx context.Context, mode, project, job string, tasks int) (SweepRun, error) {
	exe, err := os.Executable()
	if err != nil {
		return SweepRun{}, fmt.Errorf("finding the bench binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), sweepChildEnv+"="+mode, sweepChildProject+"="+project, sweepChildJob+"="+job,
		sweepChildTasks+"="+strconv.Itoa(tasks))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return SweepRun{}, fmt.Errorf("the %s sweep child: %w: %s", mode, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var run SweepRun
	if err := json.Unmarshal(out.Bytes(), &run); err != nil {
		return SweepRun{}, fmt.Errorf("decoding the %s sweep child's report %q: %w", mode, out.String(), err)
	}
	return run, nil
}

// sweepChild is the child: one search, then its own peak RSS, as JSON on stdout.
func sweepChild(mode string) int {
	ctx := context.Background()
	tasks, err := strconv.Atoi(os.Getenv(sweepChildTasks))
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", sweepChildTasks, err)
		return 2
	}
	var reads firestorereads.Counter
	opts, err := reads.Options()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	client, err := firestore.NewClient(ctx, os.Getenv(sweepChildProject), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer client.Close()
	job := os.Getenv(sweepChildJob)
	start := time.Now()
	var found int
	switch mode {
	case "paged": // what a scheduled or forced sweep does (SWEEP_BUDGET 500, 20 pages)
		w, err := backfill.NewStore(client).UnfinishedFrom(ctx, job, tasks, tasks/2, backfillfn.DefaultSweepBudget, 20*backfill.ShardPageSize)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		found = len(w.Indexes)
	case "listing":
		out, err := listUnfinished(ctx, client, job, tasks)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		found = len(out)
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q\n", mode)
		return 2
	}
	run := SweepRun{Reads: reads.Reads(), Found: found, Seconds: time.Since(start).Seconds()}
	if run.PeakRSSMB, err = procStatusMB(os.Getpid(), "VmHWM:"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	b, _ := json.Marshal(run)
	fmt.Println(string(b))
	return 0
}

// listUnfinished is the sweep's search before it walked pages (shared/backfill's Unfinished up to
// commit 94a5384), kept as this benchmark's baseline: every shard document of the job, state
// only, in one query, then the indexes without a final one.
func listUnfinished(ctx context.Context, client *firestore.Client, job string, planned int) ([]int, error) {
	docs, err := client.Collection(backfill.Collection).Doc(job).Collection("shards").Select("state").Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("listing shards of backfill job %s: %w", job, err)
	}
	final := make([]bool, planned)
	for _, d := range docs {
		n, err := strconv.Atoi(strings.TrimPrefix(d.Ref.ID, "t"))
		if err != nil || n < 0 || n >= planned {
			continue
		}
		v, _ := d.DataAt("state")
		switch v {
		case backfill.ShardSucceeded, backfill.ShardFailed, backfill.ShardCancelled:
			final[n] = true
		}
	}
	var out []int
	for i, f := range final {
		if !f {
			out = append(out, i)
		}
	}
	return out, nil
}

// benchStatusReads creates a job of c.StatusTasks tasks through the Backfill function (its
// queue paused, so every task stays queued), records it waiting on quota (every shard but the
// last 20 succeeded, those retrying), lets it go quiet and counts the documents each of
// c.StatusCalls status calls reads, one call per 5 s.
func benchStatusReads(ctx context.Context, c SweepConfig, res *SweepResult) error {
	const (
		location = "projects/bench/locations/us-central1"
		queue    = location + "/queues/backfill"
	)
	srv, err := tasksemulator.NewServer(tasksemulator.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return fmt.Errorf("starting the local Cloud Tasks: %w", err)
	}
	defer srv.Close()
	tasks, err := cloudtasks.NewClient(ctx, taskqueue.EmulatorOptions(srv.Addr())...)
	if err != nil {
		return fmt.Errorf("creating the Cloud Tasks client: %w", err)
	}
	defer tasks.Close()
	if _, err := tasks.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: location, Queue: &cloudtaskspb.Queue{Name: queue}}); err != nil {
		return fmt.Errorf("creating the queue: %w", err)
	}
	if _, err := tasks.PauseQueue(ctx, &cloudtaskspb.PauseQueueRequest{Name: queue}); err != nil {
		return fmt.Errorf("pausing the queue: %w", err)
	}
	var reads firestorereads.Counter
	opts, err := reads.Options()
	if err != nil {
		return err
	}
	fs, err := firestore.NewClient(ctx, fmt.Sprintf("bench-status-%d", time.Now().UnixNano()), opts...)
	if err != nil {
		return fmt.Errorf("creating the Firestore client: %w", err)
	}
	defer fs.Close()

	clk := fakeclock.New(time.Now().UTC())
	cfg := backfillfn.Config{Project: "bench", Queue: queue, WorkerURL: "http://127.0.0.1:1/run", BackfillURL: "http://127.0.0.1:1/Backfill",
		MaxTasks: backfillfn.DefaultMaxTasks, EnqueueSlice: c.StatusTasks,
		EnqueueParallelism: backfillfn.DefaultEnqueueParallelism, CounterShards: backfillfn.DefaultCounterShards,
		DispatchDeadline: backfillfn.DefaultDispatchDeadline, SweepAfter: backfillfn.DefaultSweepAfter,
		SweepMaxAttempts: backfillfn.DefaultSweepMaxAttempts, SweepBudget: backfillfn.DefaultSweepBudget}
	log := slog.New(slog.DiscardHandler)
	store := backfill.NewStore(fs, backfill.WithClock(clk.Now), backfill.WithCounterShards(cfg.CounterShards), backfill.WithLogger(log))
	enq := taskqueue.New(tasks, queue, taskqueue.WithParallelism(cfg.EnqueueParallelism), taskqueue.WithLogger(log))
	svc := backfillfn.NewService(cfg, store, enq, log, backfillfn.WithSweepClock(clk.Now))

	// A job of StatusTasks tasks (items over one day) of the first source with sizes; its
	// shards are seeded under the plan's own names.
	specJSON, err := localstack.SizedSpecAlone(c.StatusTasks, 1, backfill.ChunkDay, clk.Now().AddDate(0, 0, -3))
	if err != nil {
		return err
	}
	parsed, err := backfill.ParseSpec(specJSON, backfill.Limits{MaxTasks: c.StatusTasks})
	if err != nil {
		return fmt.Errorf("the quiet job's spec: %w", err)
	}
	plan, err := parsed.Plan()
	if err != nil {
		return fmt.Errorf("planning the quiet job: %w", err)
	}
	if plan.Tasks != c.StatusTasks {
		return fmt.Errorf("the quiet job plans %d tasks, want %d", plan.Tasks, c.StatusTasks)
	}
	spec := string(specJSON)
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/backfills", strings.NewReader(spec))
	req.Header.Set("Content-Type", "application/json")
	svc.ServeHTTP(rec, req)
	var created backfillfn.CreateResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil || rec.Code != http.StatusAccepted {
		return fmt.Errorf("creating the quiet job: %d %s (%v)", rec.Code, rec.Body, err)
	}
	now := clk.Now()
	if err := seedShardDocs(ctx, fs, created.JobID, c.StatusTasks, func(i int) map[string]any {
		state := backfill.ShardSucceeded
		if i >= c.StatusTasks-20 {
			state = backfill.ShardRetrying
		}
		return map[string]any{"index": i, "shard": plan.Task(i).Shard, "state": state, "attempts": 1, "updated_at": now}
	}); err != nil {
		return err
	}
	counters := fs.Collection(backfill.Collection).Doc(created.JobID).Collection("counters").Doc("0")
	if _, err := counters.Set(ctx, map[string]any{"succeeded": c.StatusTasks - 20, "retrying": 20, "updated_at": now}, firestore.MergeAll); err != nil {
		return fmt.Errorf("seeding counters: %w", err)
	}

	clk.Advance(cfg.SweepAfter + time.Minute) // quiet
	var total int64
	for range c.StatusCalls {
		before := reads.Reads()
		rec := httptest.NewRecorder()
		svc.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/backfills/"+created.JobID, nil))
		if rec.Code != http.StatusOK {
			return fmt.Errorf("status call: %d %s", rec.Code, rec.Body)
		}
		n := reads.Reads() - before
		total += n
		res.StatusReadsMax = max(res.StatusReadsMax, n)
		if n > int64(backfill.ShardPageSize)/2 { // only a sweep reads a page
			res.StatusSweeps++
		}
		clk.Advance(5 * time.Second)
	}
	res.StatusReadsMean = float64(total) / float64(c.StatusCalls)

	before := reads.Reads()
	if _, err := store.Status(ctx, created.JobID); err != nil {
		return err
	}
	if _, err := listUnfinished(ctx, fs, created.JobID, c.StatusTasks); err != nil {
		return err
	}
	res.BaselineStatusReads = reads.Reads() - before
	return nil
}

func printSweep(w io.Writer, r *SweepResult) {
	if r == nil {
		return
	}
	name := fmt.Sprintf("sweep, %d tasks", r.Tasks)
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f %7.1fx\n", name, "peak RSS of the search (MB) vs listing", r.Paged.PeakRSSMB, r.Baseline.PeakRSSMB, r.Baseline.PeakRSSMB/r.Paged.PeakRSSMB)
	fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, "documents read by the search", r.Paged.Reads, r.Baseline.Reads)
	fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, "unfinished shards found", r.Paged.Found, r.Baseline.Found)
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "search time (s)", r.Paged.Seconds, r.Baseline.Seconds)
	name = fmt.Sprintf("status, %d tasks", r.StatusTasks)
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14d %7.1fx\n", name, fmt.Sprintf("reads per call, mean of %d (5 s apart)", r.StatusCalls), r.StatusReadsMean, r.BaselineStatusReads, float64(r.BaselineStatusReads)/r.StatusReadsMean)
	fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, fmt.Sprintf("reads of the costliest call (%d swept)", r.StatusSweeps), r.StatusReadsMax, r.BaselineStatusReads)
}
