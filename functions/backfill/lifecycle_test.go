package backfill

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// A job that ended stays as it ended: cancel changes nothing and says so.
func TestCancelOfEndedJobChangesNothing(t *testing.T) {
	tests := []struct {
		name     string
		outcomes map[int]string
		want     string
	}{
		{"done", map[int]string{0: "", 1: "", 2: ""}, backfill.JobDone},
		{"done_with_failures", map[int]string{0: "", 1: "HTTP 404", 2: ""}, backfill.JobDoneWithFailures},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{paused: true})
			spec := httpSpec(3, "")
			plan := h.plan(t, spec)
			h.create(t, spec)
			h.record(t, plan, tt.outcomes)
			var got CancelResponse
			if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":cancel", "", nil, nil, &got); code != http.StatusOK {
				t.Errorf("POST :cancel of a %s job = %d, want 200", tt.want, code)
			}
			if got.State != tt.want || got.Changed || !strings.Contains(got.Message, "already ended") {
				t.Errorf("POST :cancel of a %s job = state %q changed %v message %q, want state unchanged, changed false and a message saying it already ended",
					tt.want, got.State, got.Changed, got.Message)
			}
			if st := h.status(t, plan.JobID); st.State != tt.want {
				t.Errorf("state after :cancel = %s, want %s", st.State, tt.want)
			}
			if j := h.job(t, plan.JobID); j.Cancelled {
				t.Errorf("job is marked cancelled after :cancel of an ended job")
			}
		})
	}
}

// Cancelling twice: the second says it was already cancelled.
func TestCancelTwice(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	job := h.create(t, httpSpec(3, ""))
	var first, second CancelResponse
	if code := h.do(t, http.MethodPost, "/backfills/"+job.JobID+":cancel", "", nil, nil, &first); code != http.StatusOK || !first.Changed || first.State != backfill.JobCancelled {
		t.Errorf("first :cancel = %d %+v, want 200 changed cancelled", code, first)
	}
	if code := h.do(t, http.MethodPost, "/backfills/"+job.JobID+":cancel", "", nil, nil, &second); code != http.StatusOK || second.Changed || second.State != backfill.JobCancelled {
		t.Errorf("second :cancel = %d %+v, want 200 unchanged cancelled", code, second)
	}
}

// Retry of a cancelled job tells the caller what to do instead.
func TestRetryOfCancelledJobSaysNewRun(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	job := h.create(t, httpSpec(3, ""))
	if code := h.do(t, http.MethodPost, "/backfills/"+job.JobID+":cancel", "", nil, nil, nil); code != http.StatusOK {
		t.Fatalf(":cancel = %d", code)
	}
	var e ErrorResponse
	if code := h.do(t, http.MethodPost, "/backfills/"+job.JobID+":retry", "", nil, nil, &e); code != http.StatusConflict {
		t.Errorf(":retry of a cancelled job = %d, want 409", code)
	}
	if e.Action != "new_run" || !strings.Contains(e.Error, `"new_run": true`) {
		t.Errorf(":retry of a cancelled job = %+v, want action new_run and an error saying to post the spec with \"new_run\": true", e)
	}
}

// A retry whose enqueue fails strands nothing: the next :retry enqueues the shards the first
// one reset.
func TestRetryAfterFailedEnqueueStrandsNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	spec := httpSpec(5, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	h.record(t, plan, map[int]string{0: "", 1: "HTTP 500", 2: "", 3: "HTTP 500", 4: ""})

	h.tasks.SetFault("CreateTask", status.Error(codes.PermissionDenied, "injected: queue unavailable"), -1)
	if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":retry", "", nil, nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf(":retry while the queue refuses creates = %d, want 503", code)
	}
	h.tasks.SetFault("CreateTask", nil, 0)
	before := h.workerIndexes(t)
	var got RetryResponse
	if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":retry", "", nil, nil, &got); code != http.StatusAccepted || got.Retried != 2 {
		t.Errorf("second :retry = %d %+v, want 202 retrying the 2 shards", code, got)
	}
	var again []int
	for name, i := range h.workerIndexes(t) {
		if _, ok := before[name]; !ok {
			again = append(again, i)
		}
	}
	sort.Ints(again)
	if diff := cmp.Diff([]int{1, 3}, again); diff != "" {
		t.Errorf("tasks enqueued by the second :retry mismatch (-want +got):\n%s", diff)
	}
}

// A retry of more failures than one request enqueues is fanned out through retry expansion
// tasks, each resetting and enqueueing its share.
func TestRetryOfManyFailuresFansOut(t *testing.T) {
	h := newHarness(t, harnessOptions{slice: 10})
	spec := httpSpec(30, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	h.waitIdle(t)
	outcomes := map[int]string{}
	for i := range 30 {
		outcomes[i] = "HTTP 500"
	}
	h.record(t, plan, outcomes)
	var got RetryResponse
	if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":retry", "", nil, nil, &got); code != http.StatusAccepted || got.Retried != 30 {
		t.Errorf(":retry of 30 failures = %d %+v, want 202 retrying 30", code, got)
	}
	h.waitIdle(t)
	seen := map[int]int{}
	for _, r := range h.worker.requests() {
		var ts backfill.TaskSpec
		if err := json.Unmarshal(r.Body, &ts); err != nil {
			t.Fatalf("worker body %s: %v", r.Body, err)
		}
		seen[ts.Index]++
	}
	for i := range 30 {
		if seen[i] != 2 {
			t.Errorf("task %d reached the worker %d times, want 2 (the run and the retry)", i, seen[i])
		}
	}
	retryExpansions := 0
	for _, d := range h.tasks.Dispatched() {
		if strings.HasSuffix(d.URL, ":expand") && strings.Contains(string(d.Body), `"indexes"`) {
			retryExpansions++
		}
	}
	if retryExpansions != 3 {
		t.Errorf("%d retry expansion tasks ran, want 3 (30 shards, 10 a task)", retryExpansions)
	}
	if st := h.status(t, plan.JobID); st.Counts.Failed != 0 {
		t.Errorf("failed after the retry ran = %d, want 0 (every shard reset)", st.Counts.Failed)
	}
}

// GET /backfills lists jobs newest first, a page at a time.
func TestListJobsNewestFirstPaged(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	var want []string
	for i := 1; i <= 3; i++ {
		want = append([]string{h.create(t, httpSpec(i, "")).JobID}, want...)
	}
	var got []string
	token := ""
	for pages := 0; pages < 5; pages++ {
		var page ListResponse
		path := "/backfills?limit=2"
		if token != "" {
			path += "&page_token=" + token
		}
		if code := h.do(t, http.MethodGet, path, "", nil, nil, &page); code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, code)
		}
		for _, j := range page.Jobs {
			got = append(got, j.JobID)
			if j.State != backfill.JobRunning {
				t.Errorf("job %s listed as %s, want running", j.JobID, j.State)
			}
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed jobs mismatch (-want +got):\n%s", diff)
	}
	var e ErrorResponse
	if code := h.do(t, http.MethodGet, "/backfills?limit=0", "", nil, nil, &e); code != http.StatusBadRequest || e.Field != "limit" {
		t.Errorf("GET /backfills?limit=0 = %d %+v, want 400 naming limit", code, e)
	}
}
