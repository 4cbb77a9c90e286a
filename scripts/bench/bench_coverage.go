package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/functions/streamtweets"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/lease"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

// CoverageConfig sizes the stream coverage soak. Production's minute is scaled down to Period
// (everything else in proportion is chosen by the flags), in real time, with the real Firestore
// emulator holding the lease and the local X API over loopback TCP: unlike the test's simulated
// clock, every Firestore call and reconnect costs what it costs on this machine.
type CoverageConfig struct {
	Period    time.Duration // Cloud Scheduler's period (production: 1 min)
	Duration  time.Duration // a run's read window (production: 27 min)
	LeaseWait time.Duration // production: 90 s, more than a period
	LeasePoll time.Duration // production: 1 s
	Every     time.Duration // one numbered tweet per Every
	HandOvers int           // hand-overs to run through
	Log       *slog.Logger
	Logs      io.Writer
}

// CoverageResult is the coverage of the hand-over design and of the design before it.
type CoverageResult struct {
	Period    float64     `json:"period_s"`
	Duration  float64     `json:"duration_s"`
	HandOver  CoverageRun `json:"hand_over"`
	Backfill  CoverageRun `json:"hand_over_backfill_1min"`
	Baseline  CoverageRun `json:"baseline_50_of_60"`
	Firestore string      `json:"firestore"`
}

// CoverageRun is one scheme's measurement.
type CoverageRun struct {
	Coverage      float64 `json:"coverage"`
	Posted        int64   `json:"posted"`
	Received      int64   `json:"received"`
	HandOvers     int     `json:"hand_overs"`
	DupsWithinRun int     `json:"dups_within_run"`
	MaxGapMs      float64 `json:"max_gap_ms"`
	MaxConcurrent int     `json:"max_concurrent"`
	// FailedRuns counts runs that answered 500 (a lease call that timed out on the loaded
	// emulator, for example); the next scheduled run covers for them, as in production.
	FailedRuns int     `json:"failed_runs"`
	ElapsedS   float64 `json:"elapsed_s"`
}

func benchCoverage(ctx context.Context, c CoverageConfig) (*CoverageResult, error) {
	host := os.Getenv("FIRESTORE_EMULATOR_HOST")
	if host == "" || gcloudemu.Ping(ctx, host) != nil {
		c.Log.Info("coverage: starting the Firestore emulator")
		em, err := gcloudemu.Start(ctx, gcloudemu.Firestore, gcloudemu.WithOutput(c.Logs))
		if err != nil {
			return nil, err
		}
		defer em.Stop()
		os.Setenv("FIRESTORE_EMULATOR_HOST", em.Host)
	}
	res := &CoverageResult{Period: c.Period.Seconds(), Duration: c.Duration.Seconds(), Firestore: "emulator"}
	// The design before: a run every period reads for 50/60 of it, and a run that finds the
	// lease held skips at once.
	base := c
	base.Duration, base.LeaseWait = c.Period*50/60, -1
	var err error
	c.Log.Info("coverage: hand-over design", "period", c.Period, "read", c.Duration, "hand_overs", c.HandOvers)
	if res.HandOver, err = coverageRun(ctx, c, 0); err != nil {
		return nil, err
	}
	c.Log.Info("coverage: hand-over design with backfill_minutes=1")
	if res.Backfill, err = coverageRun(ctx, c, 1); err != nil {
		return nil, err
	}
	c.Log.Info("coverage: baseline, 50 of every 60 seconds")
	base.HandOvers = c.HandOvers
	if res.Baseline, err = coverageRun(ctx, base, 0); err != nil {
		return nil, err
	}
	return res, nil
}

// coverageRun schedules runs every period until HandOvers hand-overs have happened.
func coverageRun(ctx context.Context, c CoverageConfig, backfill int) (CoverageRun, error) {
	start := time.Now()
	fs, err := firestore.NewClient(ctx, fmt.Sprintf("bench-cov-%d", time.Now().UnixNano()))
	if err != nil {
		return CoverageRun{}, fmt.Errorf("creating the Firestore client: %w", err)
	}
	defer fs.Close()
	log := logging.New(c.Logs, slog.LevelWarn)
	x := xstreamtest.NewServer(xstreamtest.WithNumberedStream(c.Every), xstreamtest.WithLogger(log))
	defer x.Close()
	set := streamtweets.Settings{
		Duration: c.Duration, LeaseTTL: streamtweets.DefaultLeaseTTL, LeaseWait: c.LeaseWait, LeasePoll: c.LeasePoll,
		BackfillMinutes: backfill, Rules: []xstream.Rule{{Value: "numbered", Tag: "numbered"}},
	}
	type runRec struct {
		pub *benchPublisher
		sum streamtweets.Summary
		err error
	}
	var (
		mu   sync.Mutex
		runs []*runRec
		wg   sync.WaitGroup
	)
	reading := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, r := range runs {
			if r.pub.count() > 0 {
				n++
			}
		}
		return n
	}
	tick := time.NewTicker(c.Period)
	defer tick.Stop()
	// One more run than hand-overs reads; stop scheduling once it has started reading.
	for reading() < c.HandOvers+1 {
		rec := &runRec{pub: &benchPublisher{}}
		newClient := func(context.Context) (*xstream.Client, error) {
			cl := x.Client()
			cl.Logger = log
			return cl, nil
		}
		newLease := func(holder string) streamtweets.Lease {
			return streamtweets.NewFirestoreLease(fs, "leases/x-stream", holder, set.LeaseTTL, lease.WithLogger(log))
		}
		s := streamtweets.NewStreamer(newClient, rec.pub, newLease, nil, log, set)
		mu.Lock()
		runs = append(runs, rec)
		mu.Unlock()
		wg.Go(func() { rec.sum, rec.err = s.Run(ctx) })
		select {
		case <-ctx.Done():
			wg.Wait()
			return CoverageRun{}, ctx.Err()
		case <-tick.C:
		}
	}
	wg.Wait()

	out := CoverageRun{MaxConcurrent: x.Stats().MaxConcurrent}
	all := map[int64]bool{}
	var prevLast time.Time
	for _, r := range runs {
		if r.err != nil {
			out.FailedRuns++
			log.Warn("coverage: a run failed", "error", r.err)
		}
		msgs := r.pub.list()
		if len(msgs) == 0 {
			continue
		}
		out.HandOvers++
		seen := map[int64]bool{}
		for _, m := range msgs {
			if seen[m.n] {
				out.DupsWithinRun++
			}
			seen[m.n], all[m.n] = true, true
		}
		if !prevLast.IsZero() {
			out.MaxGapMs = max(out.MaxGapMs, float64(msgs[0].at.Sub(prevLast).Microseconds())/1000)
		}
		prevLast = msgs[len(msgs)-1].at
	}
	out.HandOvers--
	var lo, hi int64 = -1, -1
	for n := range all {
		if lo < 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	if len(all) > 0 {
		out.Posted, out.Received = hi-lo+1, int64(len(all))
		out.Coverage = float64(out.Received) / float64(out.Posted)
	}
	out.ElapsedS = time.Since(start).Seconds()
	return out, nil
}

// benchPublisher records the numbered tweets a run published and confirms each at once.
type benchPublisher struct {
	mu   sync.Mutex
	msgs []benchMsg
}

type benchMsg struct {
	n  int64
	at time.Time
}

type benchConfirmed struct{}

func (benchConfirmed) Get(context.Context) (string, error) { return "id", nil }

func (p *benchPublisher) Publish(_ context.Context, m publish.Message) streamtweets.Confirmation {
	if x, err := event.ParseX(m.Data); err == nil && x.Tweet != nil {
		n, _ := strconv.ParseInt(x.Tweet.ID, 10, 64)
		p.mu.Lock()
		p.msgs = append(p.msgs, benchMsg{n, time.Now()})
		p.mu.Unlock()
	}
	return benchConfirmed{}
}

func (p *benchPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.msgs)
}

func (p *benchPublisher) list() []benchMsg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]benchMsg(nil), p.msgs...)
}

func printCoverage(w io.Writer, r *CoverageResult) {
	if r == nil {
		return
	}
	name := "stream coverage"
	for _, row := range []struct {
		label string
		run   CoverageRun
	}{{"hand-over, no backfill", r.HandOver}, {"hand-over, backfill_minutes=1", r.Backfill}} {
		fmt.Fprintf(w, "%-20s %-40s %13.2f%% %13.2f%% %7.2fx\n", name, row.label+" (% of numbers)", 100*row.run.Coverage, 100*r.Baseline.Coverage, row.run.Coverage/r.Baseline.Coverage)
	}
	fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, "hand-overs", r.HandOver.HandOvers, r.Baseline.HandOvers)
	fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f\n", name, "longest gap between runs (ms)", r.HandOver.MaxGapMs, r.Baseline.MaxGapMs)
	fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, "failed runs (next run covers)", r.HandOver.FailedRuns+r.Backfill.FailedRuns, r.Baseline.FailedRuns)
	fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, "numbers twice within a run", r.HandOver.DupsWithinRun+r.Backfill.DupsWithinRun, r.Baseline.DupsWithinRun)
	fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, "most connections open at once", max(r.HandOver.MaxConcurrent, r.Backfill.MaxConcurrent), r.Baseline.MaxConcurrent)
}
