// Command bench measures the pipeline on this machine against its baselines, in the same run,
// and prints a table for people and (with --json) one JSON object as its last line.
//
//	go run ./scripts/bench [--json] [--only loader,backfill,fanout,cold_start,firestore,rankings,coverage,collect,sweep,ga4_memory,cost,serving,ratelimit,scale] [--loader-messages N]
//	    [--backfill-videos N] [--backfill-days N] [--cold-starts N] [--functions-pprof ADDR] [--cpuprofile FILE]
//
// Reference: docs/performance.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// Report is every figure of a run.
type Report struct {
	Machine   string           `json:"machine"`
	Loader    *LoaderResult    `json:"loader,omitempty"`
	Backfill  *BackfillResult  `json:"backfill,omitempty"`
	Fanout    *FanoutResult    `json:"fanout,omitempty"`
	ColdStart *ColdStartResult `json:"cold_start,omitempty"`
	Firestore *FirestoreResult `json:"firestore,omitempty"`
	Rankings  *RankingsResult  `json:"rankings,omitempty"`
	Coverage  *CoverageResult  `json:"stream_coverage,omitempty"`
	Collect   *CollectResult   `json:"collect_memory,omitempty"`
	Sweep     *SweepResult     `json:"sweep,omitempty"`
	Cost      *CostResult      `json:"cost,omitempty"`
	Serving   *ServingResult   `json:"serving,omitempty"`
	RateLimit *RateLimitResult `json:"ratelimit,omitempty"`
	Scale     *ScaleResult     `json:"scale,omitempty"`
	// Sources are the sources' own benchmarks' results (localstack.SourceBenches) by name, in
	// the JSON at the top level under their names.
	Sources []SourceBenchResult `json:"-"`
}

// SourceBenchResult is one source benchmark's result.
type SourceBenchResult struct {
	Name   string
	Result sourcestest.BenchResult
}

// MarshalJSON adds each source benchmark's result under its name beside the others.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	b, err := json.Marshal(plain(r))
	if err != nil {
		return nil, err
	}
	for _, sr := range r.Sources {
		name, _ := json.Marshal(sr.Name)
		v, err := json.Marshal(sr.Result)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", sr.Name, err)
		}
		b = append(append(append(append(b[:len(b)-1], ','), name...), ':'), append(v, '}')...)
	}
	return b, nil
}

func main() {
	jsonOut := flag.Bool("json", false, "print the report as one JSON object on the last line")
	only := flag.String("only", "", "run only these benchmarks (comma-separated: loader, backfill, fanout, cold_start)")
	var lc LoaderConfig
	flag.IntVar(&lc.Messages, "loader-messages", 20000, "messages delivered to LoadEvents")
	flag.IntVar(&lc.InFlight, "loader-inflight", 64, "deliveries in flight, as Eventarc with the function's concurrency")
	flag.IntVar(&lc.BaselineMessages, "loader-baseline-messages", 1000, "messages for the one-insert-per-message baseline")
	flag.DurationVar(&lc.RTT, "rtt", 10*time.Millisecond, "network round trip to BigQuery modelled by the local BigQuery (0: loopback only)")
	bc := BackfillConfig{Latency: 100 * time.Millisecond, FailRate: 0.02, TokenTTL: time.Minute,
		Queue: localstack.QueueConfig{MaxDispatchesPerSecond: 500, MaxConcurrentDispatches: 1000, MaxAttempts: 8,
			MinBackoff: time.Second, MaxBackoff: time.Minute, MaxDoublings: 4, MaxRetryDuration: 24 * time.Hour}}
	flag.IntVar(&bc.Videos, "backfill-videos", 200, "videos of the backfill job")
	flag.IntVar(&bc.Days, "backfill-days", 720, "days of the backfill job (one task per video and day)")
	flag.IntVar(&bc.BaselineQueries, "backfill-baseline-queries", 100, "queries of the one-at-a-time baseline")
	flag.DurationVar(&bc.Timeout, "backfill-timeout", 15*time.Minute, "longest a backfill job may run (raised to 10 ms a task for bigger jobs)")
	var fc FanoutConfig
	flag.IntVar(&fc.BaselineTasks, "fanout-baseline-tasks", 2000, "tasks created one at a time by the fan-out baseline")
	var cc ColdStartConfig
	flag.IntVar(&cc.Starts, "cold-starts", 5, "process starts measured per binary")
	var fsc FirestoreConfig
	flag.IntVar(&fsc.Goroutines, "firestore-goroutines", 64, "goroutines of the Firestore emulator measurement")
	flag.DurationVar(&fsc.Duration, "firestore-duration", 5*time.Second, "length of each Firestore emulator measurement")
	rc := RankingsConfig{Readers: 100, FreshnessSamples: 10}
	flag.IntVar(&rc.Events, "rankings-events", 20000, "events delivered to UpdateRankings")
	flag.Float64Var(&rc.Offered, "rankings-offered", 0, "events a second offered to UpdateRankings (0: as fast as the deliveries in flight allow)")
	flag.IntVar(&rc.InFlight, "rankings-inflight", 1000, "deliveries in flight, as Pub/Sub push with UpdateRankings' concurrency (1,000 in the log layout)")
	flag.StringVar(&rc.Layout, "rankings-layout", "", "UpdateRankings' RANKINGS_LAYOUT in the functions process: log or markers (default: the function's default, log)")
	flag.IntVar(&rc.LayoutEvents, "rankings-layout-events", 10000, "events each rankings layout (markers, then log) is given through UpdateRankings' handler in this process, at the same deliveries in flight and offered rate (0: no layout runs)")
	flag.IntVar(&rc.BaselineEvents, "rankings-baseline-events", 2000, "events of the one-transaction-per-event baseline")
	flag.DurationVar(&rc.ReadFor, "rankings-read-for", 10*time.Second, "how long the readers read ServeRankings (0: measure the throughput only, no serving or freshness)")
	covc := CoverageConfig{LeasePoll: time.Second / 30, Every: 10 * time.Millisecond}
	flag.DurationVar(&covc.Period, "coverage-period", 2*time.Second, "Cloud Scheduler's period in the coverage soak (production: 1 min)")
	flag.DurationVar(&covc.Duration, "coverage-read", 20*time.Second, "a run's read window in the coverage soak (production: 27 min)")
	flag.DurationVar(&covc.LeaseWait, "coverage-lease-wait", 3*time.Second, "how long a run waits for the lease in the coverage soak (production: 90 s)")
	flag.IntVar(&covc.HandOvers, "coverage-hand-overs", 10, "hand-overs of the coverage soak")
	var colc CollectConfig
	flag.IntVar(&colc.Burst, "collect-burst", 80, "maximum-size requests sent to CollectEvents at once (its Terraform concurrency)")
	sc := SweepConfig{StatusCalls: 180}
	flag.IntVar(&sc.Tasks, "sweep-tasks", 1_000_000, "shard documents of the job whose sweep's peak RSS is measured")
	flag.IntVar(&sc.StatusTasks, "sweep-status-tasks", 10_000, "tasks of the quiet job whose status calls' reads are counted")
	svc := ServingConfig{Readers: []int{50, 100}, PollMinutes: 2}
	flag.DurationVar(&svc.ReadFor, "serving-read-for", 10*time.Second, "how long each reader level reads ServeRankings, cache on and off")
	flag.IntVar(&svc.Events, "serving-events", 5000, "events delivered to UpdateRankings before the serving benchmark reads")
	rlc := RateLimitConfig{PublishTime: 2 * time.Millisecond}
	flag.DurationVar(&rlc.Duration, "ratelimit-duration", 24*time.Second, "length of the rate-limit benchmark (half alone, half beside the noisy key)")
	flag.IntVar(&rlc.Rounds, "ratelimit-rounds", 8, "alternating rounds of the rate-limit benchmark (ABBA order)")
	flag.Float64Var(&rlc.GoodRate, "ratelimit-good-rate", 50, "requests per second of the well-behaved key")
	flag.Float64Var(&rlc.NoisyLimit, "ratelimit-noisy-limit", 100, "the noisy key's limit (it sends 10x)")
	scc := ScaleConfig{FanoutQueues: 4}
	flag.IntVar(&scc.FanoutVideos, "scale-fanout-videos", 1000, "videos of the scale fan-out job (x days = tasks)")
	flag.IntVar(&scc.FanoutDays, "scale-fanout-days", 1000, "days of the scale fan-out job")
	flag.IntVar(&scc.FanoutQueues, "scale-fanout-queues", 4, "queues of the scale fan-out job")
	flag.IntVar(&scc.BaselineVideos, "scale-fanout-baseline-videos", 100, "videos of the smaller fan-out run first as the baseline (0: skip it)")
	flag.IntVar(&scc.Run.Videos, "scale-run-videos", 200, "videos of the scale whole-job run (0: skip it)")
	flag.IntVar(&scc.Run.Days, "scale-run-days", 720, "days of the scale whole-job run")
	flag.IntVar(&scc.Run.Queues, "scale-run-queues", 2, "queues of the scale whole-job run")
	pprofAddr := flag.String("functions-pprof", "", "serve net/http/pprof from the backfill run's functions process at this address")
	cpuProfile := flag.String("cpuprofile", "", "write the bench process's CPU profile (the local Cloud Tasks, BigQuery and fake API run in it) to this file")
	costc := CostConfig{Backfill: BackfillConfig{Videos: 20, Days: 50, BaselineQueries: 10, Timeout: 10 * time.Minute}}
	flag.IntVar(&costc.RankingEvents, "cost-rankings-events", 20000, "events delivered to UpdateRankings by the cost report")
	flag.IntVar(&costc.RankingInFlight, "cost-rankings-inflight", 1000, "their deliveries in flight (UpdateRankings' concurrency in the log layout)")
	flag.IntVar(&costc.LoaderMessages, "cost-loader-messages", 5000, "messages delivered to LoadEvents by the cost report")
	flag.IntVar(&costc.LoaderInFlight, "cost-loader-inflight", 80, "their deliveries in flight (LoadEvents' concurrency)")
	flag.IntVar(&costc.BackfillTasks, "cost-backfill-tasks", 144000, "tasks of the backfill the report prices (scaled from a 20 x 50 job)")
	verbose := flag.Bool("verbose", false, "show the functions' output")
	flag.Parse()
	if *pprofAddr != "" {
		bc.FunctionsEnv = map[string]string{"FUNCTIONS_PPROF_ADDR": *pprofAddr}
		fc.FunctionsEnv = bc.FunctionsEnv
		scc.FunctionsEnv = bc.FunctionsEnv
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(1)
		}
		defer stopProfile()
	}
	fc.Videos, fc.Days, fc.Queue, fc.Timeout = bc.Videos, bc.Days, bc.Queue, bc.Timeout

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	lc.Log = log
	lc.Logs = io.Discard
	if *verbose {
		lc.Logs = os.Stderr
	}
	want := func(name string) bool { return *only == "" || strings.Contains(","+*only+",", ","+name+",") }

	bc.Log, bc.Logs, fc.Log, fc.Logs, cc.Log, fsc.Log, fsc.Logs = log, lc.Logs, log, lc.Logs, log, log, lc.Logs
	r := Report{Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())}
	if want("loader") {
		res, err := benchLoader(ctx, lc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: loader: %v\n", err)
			os.Exit(1)
		}
		r.Loader = res
	}
	if want("backfill") {
		res, err := benchBackfill(ctx, bc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: backfill: %v\n", err)
			os.Exit(1)
		}
		r.Backfill = res
	}
	if want("fanout") {
		res, err := benchFanout(ctx, fc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: fanout: %v\n", err)
			os.Exit(1)
		}
		r.Fanout = res
	}
	if want("firestore") {
		res, err := benchFirestore(ctx, fsc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: firestore: %v\n", err)
			os.Exit(1)
		}
		r.Firestore = res
	}
	if want("rankings") {
		rc.Log, rc.Logs = log, lc.Logs
		res, err := benchRankings(ctx, rc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: rankings: %v\n", err)
			os.Exit(1)
		}
		r.Rankings = res
	}
	if want("coverage") {
		covc.Log, covc.Logs = log, lc.Logs
		res, err := benchCoverage(ctx, covc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: coverage: %v\n", err)
			os.Exit(1)
		}
		r.Coverage = res
	}
	if want("collect") {
		colc.Log = log
		res, err := benchCollect(ctx, colc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: collect: %v\n", err)
			os.Exit(1)
		}
		r.Collect = res
	}
	if want("sweep") {
		sc.Log, sc.Logs = log, lc.Logs
		res, err := benchSweep(ctx, sc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: sweep: %v\n", err)
			os.Exit(1)
		}
		r.Sweep = res
	}
	for _, sb := range localstack.SourceBenches() {
		if !want(sb.Name) {
			continue
		}
		res, err := sb.Run(ctx, log)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", sb.Name, err)
			os.Exit(1)
		}
		r.Sources = append(r.Sources, SourceBenchResult{Name: sb.Name, Result: res})
	}
	if want("cost") {
		costc.Log, costc.Logs = log, lc.Logs
		costc.Backfill.Queue, costc.Backfill.Log, costc.Backfill.Logs = bc.Queue, log, lc.Logs
		costc.Backfill.Latency, costc.Backfill.FailRate, costc.Backfill.TokenTTL = bc.Latency, bc.FailRate, bc.TokenTTL
		res, err := benchCost(ctx, costc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: cost: %v\n", err)
			os.Exit(1)
		}
		r.Cost = res
	}
	if want("serving") {
		svc.Log, svc.Logs = log, lc.Logs
		res, err := benchServing(ctx, svc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: serving: %v\n", err)
			os.Exit(1)
		}
		r.Serving = res
	}
	if want("ratelimit") {
		rlc.Log = log
		res, err := benchRateLimit(ctx, rlc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: ratelimit: %v\n", err)
			os.Exit(1)
		}
		r.RateLimit = res
	}
	if strings.Contains(","+*only+",", ",scale,") { // minutes long: only when asked for
		run := bc
		run.Videos, run.Days, run.Queues = scc.Run.Videos, scc.Run.Days, scc.Run.Queues
		run.Log, run.Logs = log, lc.Logs
		scc.Run, scc.Timeout, scc.Log, scc.Logs = run, 2*time.Hour, log, lc.Logs
		res, err := benchScale(ctx, scc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: scale: %v\n", err)
			os.Exit(1)
		}
		r.Scale = res
		printScale(os.Stdout, res)
	}
	if want("cold_start") {
		res, err := benchColdStart(ctx, cc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: cold_start: %v\n", err)
			os.Exit(1)
		}
		r.ColdStart = res
	}
	printTable(os.Stdout, r)
	if *jsonOut {
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
	}
}

func printTable(w io.Writer, r Report) {
	fmt.Fprintf(w, "machine: %s\n\n", r.Machine)
	fmt.Fprintf(w, "%-20s %-40s %14s %14s %8s\n", "bench", "measure", "value", "baseline", "ratio")
	for _, l := range []*LoaderResult{r.Loader, loopback(r.Loader)} {
		if l == nil {
			continue
		}
		name := fmt.Sprintf("loader, %.0f ms RTT", l.RTTMs)
		fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f %7.1fx\n", name, fmt.Sprintf("msgs/s vs insertAll per msg, %d in flight", l.InFlight), l.MsgsPerS, l.BaselineMsgsPerS, l.Ratio)
		fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f %7.1fx\n", name, "msgs/s vs the seed's loop, 1 at a time", l.MsgsPerS, l.SequentialMsgsPerS, l.SequentialRatio)
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "p50 delivery -> durable row (ms)", l.P50Ms, l.BaselineP50Ms)
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "p99 delivery -> durable row (ms)", l.P99Ms, l.BaselineP99Ms)
	}
	printBackfill(w, r.Backfill)
	printFanout(w, r.Fanout)
	printColdStart(w, r.ColdStart)
	printFirestore(w, r.Firestore)
	printRankings(w, r.Rankings)
	printCoverage(w, r.Coverage)
	printCollect(w, r.Collect)
	printSweep(w, r.Sweep)
	for _, sr := range r.Sources {
		sr.Result.Print(w)
	}
	printCost(w, r.Cost)
	printServing(w, r.Serving)
	printRateLimit(w, r.RateLimit)
}

func loopback(l *LoaderResult) *LoaderResult {
	if l == nil {
		return nil
	}
	return l.Loopback
}
