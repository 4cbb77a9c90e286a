package backfill

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
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
		{"two chains of 10 links", 50, 1000, 20},
		{"two chains of 50 links", 10, 1000, 100},
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
	if len(queued) != 2 {
		t.Fatalf("queue holds %d tasks after POST, want 2 expansion tasks (chains)", len(queued))
	}
	for _, r := range []backfill.Range{{From: 0, To: 100}, {From: 100, To: 200}} {
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
	// A link of a chain: the workers of its first slice and the expansion task of the rest.
	wants := []ExpandResponse{
		{JobID: got.JobID, From: 0, To: 100, Kind: kindExpansions, Created: 51},
		{JobID: got.JobID, From: 0, To: 100, Kind: kindExpansions, AlreadyExisted: 51},
	}
	for i, want := range wants {
		var res ExpandResponse
		if code := h.do(t, http.MethodPost, path, "application/json", []byte(`{"from":0,"to":100}`), fromTasks, &res); code != http.StatusOK {
			t.Errorf("delivery %d: POST %s = %d, want 200", i+1, path, code)
		}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Errorf("delivery %d: POST %s mismatch (-want +got):\n%s", i+1, path, diff)
		}
		if st := h.status(t, got.JobID); st.Counts.Enqueued != 50 || st.State != backfill.JobPlanning {
			t.Errorf("delivery %d: job enqueued %d state %s, want 50 and planning", i+1, st.Counts.Enqueued, st.State)
		}
	}
	if _, ok := h.queued()[h.enq.TaskName(expansionTaskName(got.JobID, backfill.Range{From: 50, To: 100}))]; !ok {
		t.Errorf("no expansion task for the rest of the chain, [50, 100)")
	}
	if n := len(h.queued()); n != 53 {
		t.Errorf("queue holds %d tasks, want 2 expansions + 50 workers + the chain's next link", n)
	}
}

// However large the job, the create request and each expansion create a bounded number of
// tasks, and the expansion tasks of a job that exist at once (those the queues may dispatch
// together) are at most chainsPerQueue per queue. The queues are paused and every queued
// expansion is delivered by hand, round after round, until none is left; every task of the
// job must then be queued exactly once, in queue index mod n.
func TestFanoutBoundsExpansionsInFlight(t *testing.T) {
	const slice = 10
	tests := []struct {
		name          string
		tasks, queues int
	}{
		{"200 tasks, 1 queue", 200, 1},
		{"2000 tasks, 1 queue", 2000, 1},
		{"2000 tasks, 3 queues", 2000, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{slice: slice, paused: true, queues: tt.queues})
			got := h.create(t, httpSpec(tt.tasks, ""))
			bound := chainsPerQueue * tt.queues
			links, maxInFlight := 0, 0
			for round := 0; ; round++ {
				var expansions []*cloudtaskspb.Task
				for _, task := range h.queued() {
					if strings.HasSuffix(task.GetHttpRequest().GetUrl(), ":expand") {
						expansions = append(expansions, task)
					}
				}
				if len(expansions) == 0 {
					break
				}
				maxInFlight = max(maxInFlight, len(expansions))
				if len(expansions) > bound {
					t.Fatalf("round %d: %d expansion tasks queued at once, want at most %d (chainsPerQueue x queues)", round, len(expansions), bound)
				}
				for _, task := range expansions {
					if err := h.client.DeleteTask(t.Context(), &cloudtaskspb.DeleteTaskRequest{Name: task.GetName()}); err != nil {
						t.Fatalf("DeleteTask(%s) = %v", task.GetName(), err)
					}
					var res ExpandResponse
					path := "/backfills/" + got.JobID + ":expand"
					if code := h.do(t, http.MethodPost, path, "application/json", task.GetHttpRequest().GetBody(), fromTasks, &res); code != http.StatusOK {
						t.Fatalf("POST %s %s = %d, want 200", path, task.GetHttpRequest().GetBody(), code)
					}
					if res.Created > slice+1 {
						t.Errorf("expansion %s created %d tasks, want at most ENQUEUE_SLICE+1 = %d", task.GetHttpRequest().GetBody(), res.Created, slice+1)
					}
					links++
				}
			}
			if want := tt.tasks / slice; links != want {
				t.Errorf("%d expansion tasks ran, want %d (one per slice)", links, want)
			}
			seen := make([]int, tt.tasks)
			misplaced := 0
			for k, q := range h.queueNames {
				for _, task := range h.tasks.Tasks(q) {
					var ts backfill.TaskSpec
					if err := json.Unmarshal(task.GetHttpRequest().GetBody(), &ts); err != nil {
						t.Fatalf("worker body %s: %v", task.GetHttpRequest().GetBody(), err)
					}
					seen[ts.Index]++
					if ts.Index%tt.queues != k {
						misplaced++
					}
				}
			}
			for i, n := range seen {
				if n != 1 {
					t.Errorf("task %d queued %d times, want 1", i, n)
				}
			}
			if misplaced != 0 {
				t.Errorf("%d tasks in another queue than index mod %d", misplaced, tt.queues)
			}
			if st := h.status(t, got.JobID); st.Counts.Enqueued != tt.tasks || st.State != backfill.JobRunning {
				t.Errorf("job enqueued %d state %s, want %d and running", st.Counts.Enqueued, st.State, tt.tasks)
			}
			t.Logf("%d expansion links, at most %d queued at once", links, maxInFlight)
		})
	}
}

func TestChainRanges(t *testing.T) {
	r := func(from, to int) backfill.Range { return backfill.Range{From: from, To: to} }
	tests := []struct {
		name          string
		in            backfill.Range
		slice, chains int
		want          []backfill.Range
	}{
		{"even", r(0, 120), 10, 4, []backfill.Range{r(0, 30), r(30, 60), r(60, 90), r(90, 120)}},
		{"a short last chain", r(0, 125), 10, 4, []backfill.Range{r(0, 40), r(40, 80), r(80, 120), r(120, 125)}},
		{"fewer slices than chains", r(0, 25), 10, 8, []backfill.Range{r(0, 10), r(10, 20), r(20, 25)}},
		{"one chain", r(0, 95), 10, 1, []backfill.Range{r(0, 95)}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, chainRanges(tt.in, tt.slice, tt.chains)); diff != "" {
			t.Errorf("%s: chainRanges(%v, %d, %d) mismatch (-want +got):\n%s", tt.name, tt.in, tt.slice, tt.chains, diff)
		}
	}
	// Ten million tasks over 20 queues at the default slice: 40 chains of 250 links.
	got := chainRanges(r(0, 10_000_000), 1000, chainsPerQueue*MaxQueues)
	if len(got) != 40 || got[0].To != 250_000 {
		t.Errorf("chainRanges([0, 1e7), 1000, %d) = %d chains, the first %v; want 40 of 250,000 tasks", chainsPerQueue*MaxQueues, len(got), got[0])
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
