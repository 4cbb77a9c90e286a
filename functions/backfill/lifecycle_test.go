package backfill

import (
	"net/http"
	"strings"
	"testing"

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
