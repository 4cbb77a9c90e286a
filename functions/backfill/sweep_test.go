package backfill

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/functest"
)

// lose deletes the queued tasks of the given indexes, as Cloud Tasks does when it gives up on
// a task whose worker never answered (killed by its deadline or by memory on the last attempt).
func (h *harness) lose(t *testing.T, indexes ...int) {
	t.Helper()
	want := map[int]bool{}
	for _, i := range indexes {
		want[i] = true
	}
	for name, i := range h.workerIndexes(t) {
		if want[i] {
			if err := h.client.DeleteTask(t.Context(), &cloudtaskspb.DeleteTaskRequest{Name: name}); err != nil {
				t.Fatalf("DeleteTask(%s) = %v", name, err)
			}
		}
	}
}

// sweep posts :sweep for the job and returns the answer.
func (h *harness) sweep(t *testing.T, id string) SweepResponse {
	t.Helper()
	var got SweepResponse
	if code := h.do(t, http.MethodPost, "/backfills/"+id+":sweep", "", nil, nil, &got); code != http.StatusOK {
		t.Fatalf("POST :sweep = %d %+v, want 200", code, got)
	}
	return got
}

// queuedIndexes returns the task indexes in the queue, sorted.
func (h *harness) queuedIndexes(t *testing.T) []int {
	var out []int
	for _, i := range h.workerIndexes(t) {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}

// A shard whose task died without an outcome is re-enqueued under a new name by each sweep, up
// to SweepMaxAttempts, then recorded failed with the cause, and the job ends. Shards with a
// live task are left alone. Without the sweep, the job stays running forever.
func TestSweepReenqueuesLostTasksThenFailsThem(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true, sweepMaxAttempts: 2})
	spec := httpSpec(4, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	h.record(t, plan, map[int]string{0: ""})
	if err := h.store.RecordRetrying(t.Context(), plan.JobID, plan.Task(2).Ref(), "HTTP 503", 1); err != nil {
		t.Fatal(err)
	}
	h.lose(t, 0, 1, 2) // 0 has its outcome; 1 never reported; 2 was retrying; 3 is still queued

	for attempt := 1; attempt <= 2; attempt++ {
		got := h.sweep(t, plan.JobID)
		want := SweepResponse{JobID: plan.JobID, State: backfill.JobRunning, Unfinished: 3, Checked: 3, Live: 1, Reenqueued: 2}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("sweep %d mismatch (-want +got):\n%s", attempt, diff)
		}
		names := h.queued()
		for _, i := range []int{1, 2} {
			if _, ok := names[h.enq.TaskName(sweepTaskName(plan.JobID, attempt, i))]; !ok {
				t.Errorf("sweep %d: no task %s in the queue", attempt, sweepTaskName(plan.JobID, attempt, i))
			}
		}
		if diff := cmp.Diff([]int{1, 2, 3}, h.queuedIndexes(t)); diff != "" {
			t.Errorf("sweep %d: queued indexes mismatch (-want +got):\n%s", attempt, diff)
		}
		// A sweep while the new tasks are queued changes nothing.
		again := h.sweep(t, plan.JobID)
		if again.Live != 3 || again.Reenqueued != 0 || again.Failed != 0 {
			t.Errorf("sweep %d repeated = %+v, want 3 live and nothing done", attempt, again)
		}
		h.lose(t, 1, 2)
	}
	got := h.sweep(t, plan.JobID)
	if got.Failed != 2 || got.Reenqueued != 0 || got.State != backfill.JobRunning {
		t.Errorf("last sweep = %+v, want 2 failed, job still running for task 3", got)
	}
	h.record(t, plan, map[int]string{3: ""})
	st := h.status(t, plan.JobID)
	if st.State != backfill.JobDoneWithFailures || st.Counts.Failed != 2 || st.Counts.Succeeded != 2 || st.Counts.Retrying != 0 {
		t.Errorf("status = %s %+v, want done_with_failures, 2 succeeded, 2 failed, 0 retrying", st.State, st.Counts)
	}
	if len(st.Failures) != 1 || st.Failures[0].Count != 2 || !strings.Contains(st.Failures[0].Reason, "no outcome after 3 attempts; last task lost") {
		t.Errorf("failures = %+v, want one group of 2 saying the task was lost after 3 attempts", st.Failures)
	}
	// A sweep of the ended job does nothing.
	if got := h.sweep(t, plan.JobID); got.Skipped != "ended" || got.State != backfill.JobDoneWithFailures {
		t.Errorf("sweep of the ended job = %+v, want skipped: ended", got)
	}
}

// Sweeps running at once create each lost shard's next task once and fail it once.
func TestConcurrentSweepsActOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true, sweepMaxAttempts: 1})
	spec := httpSpec(6, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	h.lose(t, 0, 1, 2, 3, 4, 5)
	run := func() (reenqueued, failed int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range 6 {
			wg.Go(func() {
				st, err := h.store.Status(t.Context(), plan.JobID)
				if err != nil {
					t.Errorf("Status() = %v", err)
					return
				}
				res, err := h.svc.sweep(t.Context(), st, 100, sweepReadBudget, true)
				if err != nil {
					t.Errorf("sweep() = %v", err)
				}
				mu.Lock()
				reenqueued += res.Reenqueued
				failed += res.Failed
				mu.Unlock()
			})
		}
		wg.Wait()
		return
	}
	if r, f := run(); r != 6 || f != 0 {
		t.Errorf("6 concurrent sweeps re-enqueued %d and failed %d, want 6 and 0", r, f)
	}
	if diff := cmp.Diff([]int{0, 1, 2, 3, 4, 5}, h.queuedIndexes(t)); diff != "" {
		t.Errorf("queued indexes after concurrent sweeps mismatch (-want +got):\n%s", diff)
	}
	h.lose(t, 0, 1, 2, 3, 4, 5)
	if r, f := run(); r != 0 || f != 6 {
		t.Errorf("6 concurrent sweeps of exhausted shards re-enqueued %d and failed %d, want 0 and 6", r, f)
	}
	if st := h.status(t, plan.JobID); st.State != backfill.JobDoneWithFailures || st.Counts.Failed != 6 {
		t.Errorf("status = %s %+v, want done_with_failures with 6 failed", st.State, st.Counts)
	}
}

// The status call sweeps a quiet job, and leaves a job that recorded an outcome within
// SweepAfter alone.
func TestStatusCallSweepsOnlyQuietJobs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		after      time.Duration
		wantQueued []int
	}{
		{"quiet", 0, []int{1}},
		{"active", time.Hour, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{paused: true, sweepAfter: tc.after})
			spec := httpSpec(2, "")
			plan := h.plan(t, spec)
			h.create(t, spec)
			h.record(t, plan, map[int]string{0: ""})
			h.lose(t, 0, 1)
			var st backfill.Status
			if code := h.do(t, http.MethodGet, "/backfills/"+plan.JobID, "", nil, nil, &st); code != http.StatusOK || st.State != backfill.JobRunning {
				t.Errorf("GET status = %d %s, want 200 running", code, st.State)
			}
			if diff := cmp.Diff(tc.wantQueued, h.queuedIndexes(t)); diff != "" {
				t.Errorf("queued after the status call mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// POST /backfills:sweep (Cloud Scheduler's call) sweeps every planning or running job and
// stores the end of ended ones, including those its own outcomes ended, so later sweeps skip them.
func TestSweepAllEndsJobs(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	h.svc.cfg.SweepMaxAttempts = 0 // no re-enqueue: a lost shard fails at once
	lost, done := httpSpec(2, ""), httpSpec(3, "")
	lostPlan, donePlan := h.plan(t, lost), h.plan(t, done)
	h.create(t, lost)
	h.create(t, done)
	h.record(t, donePlan, map[int]string{0: "", 1: "", 2: ""})
	h.lose(t, 0, 1)

	var got SweepAllResponse
	if code := h.do(t, http.MethodPost, "/backfills:sweep", "", nil, nil, &got); code != http.StatusOK {
		t.Fatalf("POST /backfills:sweep = %d, want 200", code)
	}
	byJob := map[string]SweepResponse{}
	for _, j := range got.Jobs {
		byJob[j.JobID] = j
	}
	if j := byJob[lostPlan.JobID]; j.Failed != 2 || j.State != backfill.JobDoneWithFailures {
		t.Errorf("sweep of the job with lost tasks = %+v, want 2 failed, done_with_failures", j)
	}
	if j := byJob[donePlan.JobID]; j.Skipped != "ended" || j.State != backfill.JobDone {
		t.Errorf("sweep of the done job = %+v, want skipped: ended, done", j)
	}
	ids, err := h.store.ActiveJobs(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 0 {
		t.Errorf("active jobs after the sweep = %v, want none (the sweep that failed the lost tasks stores the end they made)", ids)
	}
	if code := h.do(t, http.MethodGet, "/backfills:sweep", "", nil, nil, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /backfills:sweep = %d, want 405", code)
	}

	// The log lines terraform/monitoring.tf's backfill metrics count: each job's end once, by
	// state, when it is stored; and a scheduled (not forced) sweep of a quiet job.
	if code := h.do(t, http.MethodPost, "/backfills:sweep", "", nil, nil, nil); code != http.StatusOK {
		t.Fatalf("second POST /backfills:sweep = %d, want 200", code)
	}
	var ended, swept []string
	for _, l := range functest.LogLines(t, h.logs.String()) {
		switch l["message"] {
		case "backfill job ended":
			ended = append(ended, fmt.Sprintf("%s %v planned=%v failed=%v", l["job_id"], l["state"], l["planned"], l["failed"]))
		case "swept backfill job":
			swept = append(swept, fmt.Sprintf("%s %v forced=%v", l["job_id"], l["state"], l["forced"]))
		}
	}
	wantEnded := []string{donePlan.JobID + " done planned=3 failed=0", lostPlan.JobID + " done_with_failures planned=2 failed=2"}
	slices.Sort(wantEnded)
	slices.Sort(ended) // the jobs end in the order the sweep reaches them
	if diff := cmp.Diff(wantEnded, ended); diff != "" {
		t.Errorf("backfill job ended lines mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{lostPlan.JobID + " done_with_failures forced=false"}, swept); diff != "" {
		t.Errorf("swept backfill job lines mismatch (-want +got):\n%s", diff)
	}
}

// A cancelled job whose tasks were lost before they could record themselves cancelled is
// accounted for by the sweep: it records them cancelled (found by TestKillDrill: a cancelled job
// ended with 38 of 40 tasks accounted for).
func TestSweepAccountsLostTasksOfCancelledJob(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	spec := httpSpec(3, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	h.record(t, plan, map[int]string{0: ""})
	if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":cancel", "", nil, nil, nil); code != http.StatusOK {
		t.Fatalf(":cancel = %d, want 200", code)
	}
	h.lose(t, 1)
	got := h.sweep(t, plan.JobID)
	if got.Cancelled != 1 || got.Live != 1 || got.Reenqueued != 0 || got.State != backfill.JobCancelled {
		t.Errorf("sweep of the cancelled job = %+v, want 1 recorded cancelled, 1 live, nothing re-enqueued", got)
	}
	h.lose(t, 2)
	h.sweep(t, plan.JobID)
	st := h.status(t, plan.JobID)
	if c := st.Counts; st.State != backfill.JobCancelled || c.Succeeded+c.Failed+c.Cancelled != c.Planned {
		t.Errorf("status = %s %+v, want cancelled with every task accounted for", st.State, c)
	}
	if got := h.sweep(t, plan.JobID); got.Skipped != "ended" {
		t.Errorf("sweep of the accounted cancelled job = %+v, want skipped: ended", got)
	}
	if ids, err := h.store.ActiveJobs(t.Context(), 10); err != nil || len(ids) != 0 {
		t.Errorf("ActiveJobs() = %v, %v; want none once the cancelled job is accounted for", ids, err)
	}
	if st := h.status(t, plan.JobID); st.State != backfill.JobCancelled {
		t.Errorf("status after the end was stored = %s, want cancelled", st.State)
	}
}
