package drills

import (
	"context"
	"flag"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
)

// killSeed fixes TestKillDrill's random kills; 0 draws a seed (logged, to replay a failure with
// -drills.kill.seed=N). Run it many times with -count=20.
var killSeed = flag.Uint64("drills.kill.seed", 0, "seed of TestKillDrill's kills; 0 draws one")

// TestKillDrill: requests die at random points of create, expand, retry and cancel, workers die
// mid-fetch, and tasks are lost as Cloud Tasks loses them (dropped after a last attempt whose
// worker was killed), at moments a seeded RNG picks. Nobody re-drives the job: only the queue
// and the sweep (POST /backfills:sweep, Cloud Scheduler's call, and the status calls) may finish
// it. The job must end with every task accounted for once and the dedup view one row per key.
//
// The kills: a request is killed by closing its connection at a random moment (the function's
// request context is then cancelled wherever the handler is: after the job is written, halfway
// through its creates); the functions process is killed like a crashed instance (every
// in-flight expansion, worker, sweep); queued tasks are deleted.
func TestKillDrill(t *testing.T) {
	seed := *killSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := time.Now()
	// Scenario: with no sweep attempts, a lost task fails at once and the job needs a :retry
	// (which is killed too); with some, the sweep re-enqueues it. A quarter of the runs cancel.
	sweepAttempts := []int{0, 3}[rng.IntN(2)]
	cancelToo := rng.IntN(4) == 0
	t.Logf("seed %d: sweep attempts %d, cancel %v (replay with -drills.kill.seed=%d)", seed, sweepAttempts, cancelToo, seed)

	s := startDrillStack(t, &localstack.BackfillOptions{Queue: drillQueue(4),
		Fakes: map[string][]sourcestest.Option{"youtube_analytics": {sourcestest.WithLatency(60 * time.Millisecond)}}},
		func(o *localstack.Options) {
			o.FunctionsEnv = map[string]string{
				"ENQUEUE_SLICE":      "8", // 40 tasks: the create request hands ranges to expansion tasks
				"SWEEP_AFTER":        "0s",
				"SWEEP_MAX_ATTEMPTS": strconv.Itoa(sweepAttempts),
			}
		})
	ctx := context.Background()
	videos, days := drillVideos**drillSize, drillDays
	spec := youtubefake.Spec(videos, days, "day", time.Now().UTC().AddDate(0, 0, -3))
	parsed, err := backfill.ParseSpec(spec, backfill.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := parsed.Plan()
	if err != nil {
		t.Fatal(err)
	}
	job, planned := plan.JobID, plan.Tasks

	// killed sends a request and closes its connection after a random 0 to within ms.
	killed := func(what string, within int, call func(context.Context) error) {
		after := time.Duration(rng.IntN(within*1000)) * time.Microsecond
		kctx, cancel := context.WithTimeout(ctx, after)
		defer cancel()
		err := call(kctx)
		t.Logf("%s killed after %s: %v", what, after, err)
	}
	killed("create", 40, func(c context.Context) error { _, err := s.StartBackfill(c, spec); return err })
	// The user saw the create fail; if not even the job was written, they post it again.
	if _, err := s.BackfillStatus(ctx, job); err != nil && strings.Contains(err.Error(), "404") {
		if _, err := s.StartBackfill(ctx, spec); err != nil {
			t.Fatalf("StartBackfill again: %v", err)
		}
		t.Logf("the killed create wrote no job; posted again")
	}

	// Kill the functions process (expansions and workers mid-fetch) at a random moment.
	<-time.After(time.Duration(50+rng.IntN(400)) * time.Millisecond)
	if err := s.RestartFunctions(ctx); err != nil {
		t.Fatal(err)
	}
	// Lose up to 5 queued tasks, workers or expansions, as Cloud Tasks drops a task whose last
	// attempt's worker was killed.
	queued := s.Backfill.Tasks.Tasks(s.Backfill.Queue)
	rng.Shuffle(len(queued), func(i, j int) { queued[i], queued[j] = queued[j], queued[i] })
	lost := 0
	for _, task := range queued[:min(len(queued), 1+rng.IntN(5))] {
		if err := s.Backfill.TasksClient.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: task.GetName()}); err == nil {
			lost++
		}
	}
	t.Logf("functions killed; %d queued tasks lost of %d", lost, len(queued))
	if cancelToo {
		killed(":cancel", 100, func(c context.Context) error { return s.BackfillAction(c, job, "cancel") })
	}

	// Only the queue and sweeps from here, plus :retry for a job that ended with failures (the
	// first one killed).
	retries := 0
	deadline := time.Now().Add(drillTimeout())
	var st *backfill.Status
	for {
		if time.Now().After(deadline) {
			t.Fatalf("job %s did not end after %s: %+v", job, drillTimeout(), st)
		}
		killedSweep := rng.IntN(3) == 0
		sctx, cancel := context.WithTimeout(ctx, time.Duration(rng.IntN(20_000))*time.Microsecond)
		if !killedSweep {
			sctx, cancel = context.WithTimeout(ctx, drillTimeout())
		}
		_ = s.SweepBackfills(sctx)
		cancel()
		st, err = s.BackfillStatus(ctx, job)
		if err != nil {
			t.Fatalf("BackfillStatus: %v", err)
		}
		if st.State == backfill.JobDoneWithFailures && retries < 5 {
			retries++
			if retries == 1 {
				killed(":retry", 40, func(c context.Context) error { return s.BackfillAction(c, job, "retry") })
			} else if err := s.BackfillAction(ctx, job, "retry"); err != nil {
				t.Errorf(":retry: %v", err)
			}
			continue
		}
		if localstack.Ended(st.State) && len(s.Backfill.Tasks.Tasks(s.Backfill.Queue)) == 0 {
			break
		}
		<-time.After(100 * time.Millisecond)
	}
	ictx, cancel := context.WithTimeout(ctx, drillTimeout())
	defer cancel()
	if err := s.Backfill.Tasks.WaitIdle(ictx, s.Backfill.Queue); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
	if st, err = s.BackfillStatus(ctx, job); err != nil {
		t.Fatal(err)
	}
	switch {
	case st.State == backfill.JobCancelled:
		// A task whose worker appended its rows and was killed before recording, then
		// redelivered after the cancel, records cancelled with its rows in BigQuery: so the
		// table holds at least the succeeded tasks' rows and at most every task's, one row per
		// key in the dedup view, and every task is accounted for once (checkInvariants' exact
		// row counter holds only for jobs that ran every task).
		truth, err := s.BackfillRows(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		c := st.Counts
		if c.Succeeded+c.Failed+c.Cancelled != c.Planned {
			t.Errorf("cancelled job %s: %d succeeded + %d failed + %d cancelled of %d planned", job, c.Succeeded, c.Failed, c.Cancelled, c.Planned)
		}
		if truth.Keys < c.Rows || truth.Keys > planned || truth.DedupRows != truth.Keys {
			t.Errorf("cancelled job %s: %d keys in BigQuery (%d in the dedup view) for %d rows counted of %d tasks", job, truth.Keys, truth.DedupRows, c.Rows, planned)
		}
		t.Logf("job %s: cancelled, counts %+v; BigQuery %d rows, %d keys, %d in the dedup view", job, c, truth.Rows, truth.Keys, truth.DedupRows)
	case st.State != backfill.JobDone:
		t.Errorf("job ended %s (%+v) after %d retries, want done", st.State, st.Failures, retries)
		checkInvariants(t, s, job, st.Counts.Succeeded, nil)
	default:
		checkInvariants(t, s, job, planned, nil)
	}
	t.Logf("seed %d: job %s ended %s after %d retries in %s", seed, job, st.State, retries, time.Since(start).Round(time.Millisecond))
}
