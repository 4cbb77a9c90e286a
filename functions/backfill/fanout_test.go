package backfill

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

var fromTasks = map[string]string{"X-CloudTasks-QueueName": "backfill"}

// A job larger than ENQUEUE_SLICE is fanned out by expansion tasks that the queue delivers
// back to the function; in the end every task is enqueued exactly once.
func TestLargeJobIsExpandedByExpansionTasks(t *testing.T) {
	tests := []struct {
		name           string
		slice, tasks   int
		wantExpansions int
	}{
		{"one level", 50, 1000, 20},
		{"a tree", 10, 1000, 110}, // 10 expansions of 100, each making 10 of 10
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{slice: tt.slice})
			spec := httpSpec(tt.tasks, "")
			got := h.create(t, spec)
			if got.Enqueued != 0 || got.State != backfill.JobPlanning || got.PlannedTasks != tt.tasks {
				t.Errorf("POST /backfills = %+v, want %d planned, none enqueued yet, planning", got, tt.tasks)
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
			for i := range tt.tasks {
				if seen[i] != 1 {
					t.Errorf("task %d reached the worker %d times, want 1", i, seen[i])
				}
			}
			if len(seen) != tt.tasks {
				t.Errorf("worker saw %d distinct tasks, want %d", len(seen), tt.tasks)
			}
			expansions := 0
			for _, d := range h.tasks.Dispatched() {
				if strings.HasSuffix(d.URL, ":expand") {
					expansions++
					if d.StatusCode != http.StatusOK {
						t.Errorf("expansion %s answered %d, want 200", d.Body, d.StatusCode)
					}
				}
			}
			if expansions != tt.wantExpansions {
				t.Errorf("%d expansion tasks ran, want %d", expansions, tt.wantExpansions)
			}
			st := h.status(t, got.JobID)
			if st.Counts.Enqueued != tt.tasks || st.Counts.Planned != tt.tasks || st.State != backfill.JobRunning {
				t.Errorf("job = enqueued %d planned %d state %s, want %d, %d, running", st.Counts.Enqueued, st.Counts.Planned, st.State, tt.tasks, tt.tasks)
			}
		})
	}
}

// An expansion task delivered twice creates its tasks once and counts them once.
func TestExpansionDeliveredTwiceCreatesNothingNew(t *testing.T) {
	h := newHarness(t, harnessOptions{slice: 50, paused: true})
	got := h.create(t, httpSpec(200, ""))
	queued := h.queued()
	if len(queued) != 4 {
		t.Fatalf("queue holds %d tasks after POST, want 4 expansion tasks", len(queued))
	}
	for _, r := range []backfill.Range{{From: 0, To: 50}, {From: 150, To: 200}} {
		name := h.enq.TaskName(expansionTaskName(got.JobID, r))
		task, ok := queued[name]
		if !ok {
			t.Fatalf("no expansion task %s for %v", name, r)
		}
		hr := task.GetHttpRequest()
		if want := fmt.Sprintf(`{"from":%d,"to":%d}`, r.From, r.To); string(hr.GetBody()) != want || hr.GetUrl() != got.StatusURL+":expand" ||
			hr.GetOidcToken().GetAudience() != h.cfg.BackfillURL {
			t.Errorf("expansion task %v = %s %s audience %s, want %s to %s:expand", r, hr.GetUrl(), hr.GetBody(), hr.GetOidcToken().GetAudience(), want, got.StatusURL)
		}
	}

	path := "/" + EntryPoint + "/backfills/" + got.JobID + ":expand"
	wants := []ExpandResponse{
		{JobID: got.JobID, From: 0, To: 50, Kind: kindWorkers, Created: 50},
		{JobID: got.JobID, From: 0, To: 50, Kind: kindWorkers, AlreadyExisted: 50},
	}
	for i, want := range wants {
		var res ExpandResponse
		if code := h.do(t, http.MethodPost, path, "application/json", []byte(`{"from":0,"to":50}`), fromTasks, &res); code != http.StatusOK {
			t.Errorf("delivery %d: POST %s = %d, want 200", i+1, path, code)
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("delivery %d: POST %s mismatch (-want +got):\n%s", i+1, path, diff)
		}
		if st := h.status(t, got.JobID); st.Counts.Enqueued != 50 || st.State != backfill.JobPlanning {
			t.Errorf("delivery %d: job enqueued %d state %s, want 50 and planning", i+1, st.Counts.Enqueued, st.State)
		}
	}
	if n := len(h.queued()); n != 54 {
		t.Errorf("queue holds %d tasks, want 4 expansions + 50 workers", n)
	}
}

func TestExpandRefusals(t *testing.T) {
	h := newHarness(t, harnessOptions{slice: 50, paused: true})
	got := h.create(t, httpSpec(100, ""))
	path := "/backfills/" + got.JobID + ":expand"
	tests := []struct {
		name       string
		path       string
		header     map[string]string
		body       string
		wantStatus int
	}{
		{"not from Cloud Tasks", path, nil, `{"from":0,"to":50}`, http.StatusForbidden},
		{"range outside the job", path, fromTasks, `{"from":50,"to":150}`, http.StatusBadRequest},
		{"empty range", path, fromTasks, `{"from":50,"to":50}`, http.StatusBadRequest},
		{"not a range", path, fromTasks, `[1,2]`, http.StatusBadRequest},
		{"unknown job", "/backfills/bf-0000000000000000:expand", fromTasks, `{"from":0,"to":50}`, http.StatusNotFound},
	}
	for _, tt := range tests {
		var res ErrorResponse
		if code := h.do(t, http.MethodPost, tt.path, "application/json", []byte(tt.body), tt.header, &res); code != tt.wantStatus || res.Error == "" {
			t.Errorf("%s: POST %s = %d %+v, want %d with an error", tt.name, tt.path, code, res, tt.wantStatus)
		}
	}
	if st := h.status(t, got.JobID); st.Counts.Enqueued != 0 {
		t.Errorf("job enqueued = %d after refused expansions, want 0", st.Counts.Enqueued)
	}
}
