package backfill

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// record gives tasks of a job outcomes as RunBackfillTask would: index -> failure reason, ""
// for a success of 10 rows.
func (h *harness) record(t *testing.T, plan *backfill.Plan, outcomes map[int]string) {
	t.Helper()
	for i, reason := range outcomes {
		ref := plan.Task(i).Ref()
		var err error
		if reason == "" {
			_, err = h.store.RecordSuccess(t.Context(), plan.JobID, ref, 10, 1)
		} else {
			_, err = h.store.RecordFailure(t.Context(), plan.JobID, ref, reason, 1)
		}
		if err != nil {
			t.Fatalf("recording task %d: %v", i, err)
		}
	}
}

func TestStatusReportsOutcomes(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	spec := httpSpec(5, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	h.record(t, plan, map[int]string{0: "", 1: "", 2: "HTTP 404 Not Found"})

	var got backfill.Status
	if code := h.do(t, http.MethodGet, "/backfills/"+plan.JobID, "", nil, nil, &got); code != http.StatusOK {
		t.Fatalf("GET /backfills/%s = %d, want 200", plan.JobID, code)
	}
	wantCounts := backfill.Counts{Planned: 5, Enqueued: 5, Succeeded: 2, Failed: 1, Rows: 20, APICalls: 3}
	if diff := cmp.Diff(wantCounts, got.Counts); diff != "" {
		t.Errorf("status counts mismatch (-want +got):\n%s", diff)
	}
	wantFailures := []backfill.FailureGroup{{Cause: "HTTP 404 Not Found", Reason: "HTTP 404 Not Found", Count: 1, Shards: []string{plan.Task(2).Shard}}}
	if diff := cmp.Diff(wantFailures, got.Failures); diff != "" {
		t.Errorf("status failures mismatch (-want +got):\n%s", diff)
	}
	if got.JobID != plan.JobID || got.State != backfill.JobRunning {
		t.Errorf("status = job %s state %s, want %s running", got.JobID, got.State, plan.JobID)
	}
	// The prefix the local stack serves the function under reaches the same route.
	var prefixed backfill.Status
	if code := h.do(t, http.MethodGet, "/"+EntryPoint+"/backfills/"+plan.JobID, "", nil, nil, &prefixed); code != http.StatusOK || prefixed.Counts != got.Counts {
		t.Errorf("GET /%s/backfills/%s = %d %+v, want 200 and the same counts", EntryPoint, plan.JobID, code, prefixed.Counts)
	}
}

// workerNames returns the queue's worker task names and the task index each carries.
func (h *harness) workerIndexes(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for name, task := range h.queued() {
		var ts backfill.TaskSpec
		if err := json.Unmarshal(task.GetHttpRequest().GetBody(), &ts); err != nil {
			t.Fatalf("task %s body: %v", name, err)
		}
		out[name] = ts.Index
	}
	return out
}

func TestRetryEnqueuesOnlyFailedShardsUnderNewNames(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	spec := httpSpec(5, "")
	plan := h.plan(t, spec)
	job := h.create(t, spec)
	first := h.workerIndexes(t)
	h.record(t, plan, map[int]string{0: "", 1: "HTTP 500", 3: "HTTP 500", 4: ""})

	retry := func(wantStatus, wantRetried int, wantNew []int, generation int) {
		t.Helper()
		before := h.workerIndexes(t)
		var got RetryResponse
		if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":retry", "", nil, nil, &got); code != wantStatus {
			t.Errorf("POST :retry = %d, want %d", code, wantStatus)
		}
		if diff := cmp.Diff(RetryResponse{JobID: plan.JobID, Retried: wantRetried, StatusURL: job.StatusURL}, got); diff != "" {
			t.Errorf("POST :retry mismatch (-want +got):\n%s", diff)
		}
		var gotNew []int
		for name, i := range h.workerIndexes(t) {
			if _, ok := before[name]; ok {
				continue
			}
			gotNew = append(gotNew, i)
			if want := h.enq.TaskName(workerTaskName(plan.JobID, generation, i)); name != want {
				t.Errorf("retried task %d is named %s, want %s (generation %d)", i, name, want, generation)
			}
			if _, ok := first[name]; ok {
				t.Errorf("retried task %d reuses its first run's name %s", i, name)
			}
		}
		sort.Ints(gotNew)
		if diff := cmp.Diff(wantNew, gotNew); diff != "" {
			t.Errorf("tasks enqueued by :retry mismatch (-want +got):\n%s", diff)
		}
	}
	retry(http.StatusAccepted, 2, []int{1, 3}, 1)
	st, err := h.store.Status(t.Context(), plan.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Counts.Failed != 0 || st.Counts.Enqueued != 5 || st.State != backfill.JobRunning {
		t.Errorf("status after retry = %+v state %s, want no failures, 5 enqueued, running", st.Counts, st.State)
	}
	retry(http.StatusOK, 0, nil, 0) // nothing failed: nothing to do
	h.record(t, plan, map[int]string{3: "HTTP 500 again"})
	retry(http.StatusAccepted, 1, []int{3}, 2)
}

func TestCancel(t *testing.T) {
	h := newHarness(t, harnessOptions{slice: 50, paused: true})
	job := h.create(t, httpSpec(100, ""))
	var st backfill.Status
	if code := h.do(t, http.MethodPost, "/backfills/"+job.JobID+":cancel", "", nil, nil, &st); code != http.StatusOK || st.State != backfill.JobCancelled {
		t.Errorf("POST :cancel = %d state %q, want 200 cancelled", code, st.State)
	}
	// Expansion tasks of a cancelled job create nothing.
	var exp ExpandResponse
	if code := h.do(t, http.MethodPost, "/backfills/"+job.JobID+":expand", "application/json", []byte(`{"from":0,"to":50}`), fromTasks, &exp); code != http.StatusOK || exp.Kind != kindSkipped {
		t.Errorf("POST :expand of a cancelled job = %d %+v, want 200 skipped", code, exp)
	}
	if n := len(h.queued()); n != 2 {
		t.Errorf("queue holds %d tasks, want the 2 expansion tasks only", n)
	}
	var e ErrorResponse
	if code := h.do(t, http.MethodPost, "/backfills/"+job.JobID+":retry", "", nil, nil, &e); code != http.StatusConflict {
		t.Errorf("POST :retry of a cancelled job = %d %+v, want 409", code, e)
	}
	if j := h.job(t, job.JobID); j.State != backfill.JobCancelled || !j.Cancelled {
		t.Errorf("job state %s cancelled %v, want cancelled", j.State, j.Cancelled)
	}
}

func TestUnknownJobs(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	tests := []struct {
		method, path string
		wantStatus   int
	}{
		{http.MethodGet, "/backfills/bf-0123456789abcdef", 404},
		{http.MethodPost, "/backfills/bf-0123456789abcdef:cancel", 404},
		{http.MethodPost, "/backfills/bf-0123456789abcdef:retry", 404},
		{http.MethodGet, "/backfills/../../etc", 404},
		{http.MethodPost, "/backfills/bf-0123456789abcdef:explode", 404},
		{http.MethodPost, "/backfills/bf-0123456789abcdef", 405},
		{http.MethodGet, "/backfills/bf-0123456789abcdef:cancel", 405},
	}
	for _, tt := range tests {
		var e ErrorResponse
		if code := h.do(t, tt.method, tt.path, "", nil, nil, &e); code != tt.wantStatus || e.Error == "" {
			t.Errorf("%s %s = %d %+v, want %d with an error", tt.method, tt.path, code, e, tt.wantStatus)
		}
	}
}

// A retry of more failures than a page walks them: each request or retry expansion task reads
// one page (here ENQUEUE_SLICE = 10 shards) and hands the next to the next task, so no call
// lists more than a page and one retry expansion task is queued at a time. Every failed shard
// is in exactly one page and gets exactly one task. A step that dies (the queue refuses its
// creates after it reset its shards) is delivered again and finishes; a step delivered twice
// creates nothing twice and does not fork the walk.
func TestRetryWalksFailedShardsInPages(t *testing.T) {
	const slice, tasks = 10, 95
	h := newHarness(t, harnessOptions{slice: slice, paused: true})
	spec := httpSpec(tasks, "")
	plan := h.plan(t, spec)
	job := h.create(t, spec)
	outcomes := map[int]string{}
	var failed []int
	for i := range tasks {
		outcomes[i] = ""
		if i%4 != 0 {
			outcomes[i] = "HTTP 500"
			failed = append(failed, i)
		}
	}
	h.record(t, plan, outcomes)
	h.reads.Reset()

	var got RetryResponse
	if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":retry", "", nil, nil, &got); code != http.StatusAccepted || got.Retried != len(failed) {
		t.Fatalf("POST :retry = %d %+v, want 202 retrying %d", code, got, len(failed))
	}
	path := "/backfills/" + plan.JobID + ":expand"
	inPages := map[int]int{}
	steps := 0
	for ; ; steps++ {
		var sets []*cloudtaskspb.Task
		for _, task := range h.queued() {
			if body := task.GetHttpRequest().GetBody(); strings.HasSuffix(task.GetHttpRequest().GetUrl(), ":expand") && strings.Contains(string(body), `"generation"`) {
				sets = append(sets, task)
			}
		}
		if len(sets) == 0 {
			break
		}
		if len(sets) > 1 {
			t.Fatalf("step %d: %d retry expansion tasks queued at once, want 1", steps, len(sets))
		}
		body := sets[0].GetHttpRequest().GetBody()
		var set retrySet
		if err := json.Unmarshal(body, &set); err != nil {
			t.Fatalf("retry set %s: %v", body, err)
		}
		if n := len(set.Indexes) + len(set.Pending); n > slice {
			t.Errorf("step %d: a set of %d shards, want at most %d", steps, n, slice)
		}
		for _, i := range set.Indexes {
			inPages[i]++
		}
		if err := h.client.DeleteTask(t.Context(), &cloudtaskspb.DeleteTaskRequest{Name: sets[0].GetName()}); err != nil {
			t.Fatal(err)
		}
		if steps == 2 {
			h.tasks.SetFault("CreateTask", status.Error(codes.PermissionDenied, "injected: queue unavailable"), -1)
			if code := h.do(t, http.MethodPost, path, "application/json", body, fromTasks, nil); code != http.StatusServiceUnavailable {
				t.Errorf("step %d while the queue refuses creates = %d, want 503", steps, code)
			}
			h.tasks.SetFault("CreateTask", nil, 0)
		}
		deliveries := 1
		if steps == 3 {
			deliveries = 2
		}
		for range deliveries {
			var res ExpandResponse
			if code := h.do(t, http.MethodPost, path, "application/json", body, fromTasks, &res); code != http.StatusOK {
				t.Fatalf("step %d: POST %s %s = %d, want 200", steps, path, body, code)
			}
		}
	}
	if want := (len(failed) + slice - 1) / slice; steps != want {
		t.Errorf("the walk took %d retry expansion tasks, want %d (one per page)", steps, want)
	}
	for _, i := range failed {
		if inPages[i] != 1 {
			t.Errorf("failed shard %d is in %d pages, want 1", i, inPages[i])
		}
	}
	retried := map[int]int{}
	for name, task := range h.queued() {
		if strings.HasSuffix(task.GetHttpRequest().GetUrl(), ":expand") {
			continue
		}
		var ts backfill.TaskSpec
		if err := json.Unmarshal(task.GetHttpRequest().GetBody(), &ts); err != nil {
			t.Fatalf("task %s body: %v", name, err)
		}
		if name == h.enq.TaskName(workerTaskName(plan.JobID, 1, ts.Index)) {
			retried[ts.Index]++
		}
	}
	for _, i := range failed {
		if retried[i] != 1 {
			t.Errorf("failed shard %d has %d generation-1 tasks, want 1", i, retried[i])
		}
	}
	if len(retried) != len(failed) {
		t.Errorf("%d shards got a generation-1 task, want the %d failed", len(retried), len(failed))
	}
	if most := h.reads.LargestCall(); most > slice {
		t.Errorf("the retry read %d documents in one call, want at most a page (%d)", most, slice)
	}
	if st := h.status(t, job.JobID); st.Counts.Failed != 0 {
		t.Errorf("status after the walk: %d failed, want 0", st.Counts.Failed)
	}
}

// At the page size a retry is walked (the page may not be all), one past it takes two retry
// expansion tasks, and one under it is retried by the request itself.
func TestRetryPageBound(t *testing.T) {
	const slice = 10
	for _, tt := range []struct{ failed, wantSteps int }{{slice - 1, 0}, {slice, 1}, {slice + 1, 2}} {
		t.Run(fmt.Sprintf("%d failed", tt.failed), func(t *testing.T) {
			h := newHarness(t, harnessOptions{slice: slice, paused: true})
			spec := httpSpec(slice, "")
			if tt.failed > slice {
				spec = httpSpec(2*slice, "")
			}
			plan := h.plan(t, spec)
			h.create(t, spec)
			outcomes := map[int]string{}
			for i := range tt.failed {
				outcomes[i] = "HTTP 500"
			}
			h.record(t, plan, outcomes)
			var got RetryResponse
			if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":retry", "", nil, nil, &got); code != http.StatusAccepted || got.Retried != tt.failed {
				t.Fatalf("POST :retry = %d %+v, want 202 retrying %d", code, got, tt.failed)
			}
			steps := 0
			for {
				var next *cloudtaskspb.Task
				for _, task := range h.queued() {
					if strings.Contains(string(task.GetHttpRequest().GetBody()), `"generation"`) {
						next = task
					}
				}
				if next == nil {
					break
				}
				if err := h.client.DeleteTask(t.Context(), &cloudtaskspb.DeleteTaskRequest{Name: next.GetName()}); err != nil {
					t.Fatal(err)
				}
				if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":expand", "application/json", next.GetHttpRequest().GetBody(), fromTasks, nil); code != http.StatusOK {
					t.Fatalf("step %d = %d, want 200", steps, code)
				}
				steps++
			}
			if steps != tt.wantSteps {
				t.Errorf("%d retry expansion tasks, want %d", steps, tt.wantSteps)
			}
			for i := range tt.failed {
				if _, ok := h.queued()[h.enq.TaskName(workerTaskName(plan.JobID, 1, i))]; !ok {
					t.Errorf("failed shard %d has no generation-1 task", i)
				}
			}
		})
	}
}
