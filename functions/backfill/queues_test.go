package backfill

import (
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// queueOf returns, for each worker task index queued, the queue that holds its task.
func (h *harness) queueOf(t *testing.T) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	for _, q := range h.queueNames {
		for _, task := range h.tasks.Tasks(q) {
			var ts backfill.TaskSpec
			if err := json.Unmarshal(task.GetHttpRequest().GetBody(), &ts); err != nil {
				t.Fatalf("task %s body: %v", task.GetName(), err)
			}
			out[ts.Index] = append(out[ts.Index], q)
		}
	}
	return out
}

// A job's task i goes to queue i mod 3; the sweep finds each live task in its own queue and
// re-creates a lost one there; a cancel then ends the job with the tasks still queued.
func TestTasksSpreadOverQueues(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true, queues: 3, slice: 10, sweepMaxAttempts: 2})
	spec := httpSpec(10, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	want := map[int][]string{}
	for i := range 10 {
		want[i] = []string{h.queueNames[i%3]}
	}
	if diff := cmp.Diff(want, h.queueOf(t)); diff != "" {
		t.Fatalf("queues of the tasks mismatch (-want +got):\n%s", diff)
	}

	h.lose(t, 4, 8)
	got := h.sweep(t, plan.JobID)
	if diff := cmp.Diff(SweepResponse{JobID: plan.JobID, State: backfill.JobRunning, Unfinished: 10, Checked: 10, Live: 8, Reenqueued: 2}, got); diff != "" {
		t.Errorf("sweep mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, h.queueOf(t)); diff != "" {
		t.Errorf("queues of the tasks after the sweep mismatch (-want +got):\n%s", diff)
	}

	var st backfill.Status
	if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":cancel", "", nil, nil, &st); code != http.StatusOK || st.State != backfill.JobCancelled {
		t.Errorf("POST :cancel = %d state %q, want 200 cancelled", code, st.State)
	}
}

// A job larger than the slice fans out through expansion tasks spread over the queues, and
// every task reaches the worker once, from its own queue.
func TestFanOutOverQueuesDeliversEveryTaskOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{queues: 2, slice: 4})
	spec := httpSpec(37, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	h.waitIdle(t)
	var got []int
	for _, r := range h.worker.requests() {
		var ts backfill.TaskSpec
		if err := json.Unmarshal(r.Body, &ts); err != nil {
			t.Fatalf("worker request body: %v", err)
		}
		got = append(got, ts.Index)
	}
	sort.Ints(got)
	want := make([]int, plan.Tasks)
	for i := range want {
		want[i] = i
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tasks delivered mismatch (-want +got):\n%s", diff)
	}
	if st := h.status(t, plan.JobID); st.Counts.Enqueued != plan.Tasks {
		t.Errorf("enqueued = %d, want %d", st.Counts.Enqueued, plan.Tasks)
	}
}
