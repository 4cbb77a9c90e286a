package backfill

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

const ytSpec = `{"source":"youtube_analytics","youtube_analytics":{"video_ids":["b","a"],"metrics":["views"],"start":"2025-01-01","end":"2025-01-03"}}`

func TestCreateRefusesBadRequests(t *testing.T) {
	h := newHarness(t, harnessOptions{maxTasks: 100, paused: true})
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantStatus  int
		wantField   string
		wantError   string // a substring
	}{
		{"unknown field", "POST", "application/json", `{"source":"youtube_analytics","sauce":1}`, 400, "sauce", "unknown field"},
		{"end before start", "POST", "application/json",
			`{"source":"youtube_analytics","youtube_analytics":{"video_ids":["a"],"metrics":["views"],"start":"2025-02-01","end":"2025-01-31"}}`,
			400, "youtube_analytics.end", "before start"},
		{"wrong type", "POST", "application/json", `{"source":"youtube_analytics","youtube_analytics":{"video_ids":"a"}}`, 400, "youtube_analytics.video_ids", "want an array"},
		{"not JSON", "POST", "application/json", `{"source":`, 400, "", "invalid JSON"},
		{"host not on the allow-list", "POST", "application/json", `{"source":"http_json","http_json":{"url":"https://evil.example.net/x"}}`,
			400, "http_json.url", "not on the allow-list"},
		{"over MAX_TASKS", "POST", "application/json", httpSpec(101, ""), 400, "http_json", "the job would create 101 tasks, over the limit of 100"},
		{"not JSON content", "POST", "text/plain", ytSpec, 415, "", "application/json"},
		{"no content type", "POST", "", ytSpec, 415, "", "application/json"},
		{"over 1 MiB", "POST", "application/json", `{"source":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "", "over 1 MiB"},
		{"wrong method", "PUT", "", "", 405, "", "use POST"},
		{"unknown route", "POST", "application/json", ytSpec, 404, "", "no such route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "/backfills"
			if tt.name == "unknown route" {
				path = "/jobs"
			}
			var got ErrorResponse
			code := h.do(t, tt.method, path, tt.contentType, []byte(tt.body), nil, &got)
			if code != tt.wantStatus || got.Field != tt.wantField || !strings.Contains(got.Error, tt.wantError) {
				t.Errorf("%s /backfills = %d %+v, want %d field %q error containing %q", tt.method, code, got, tt.wantStatus, tt.wantField, tt.wantError)
			}
		})
	}
	if n := len(h.queued()); n != 0 {
		t.Errorf("%d tasks were enqueued, want none", n)
	}
}

func TestDryRunEnqueuesNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	var got DryRunResponse
	if code := h.post(t, strings.TrimSuffix(ytSpec, "}")+`,"dry_run":true}`, &got); code != http.StatusOK {
		t.Fatalf("POST /backfills dry_run = %d, want 200", code)
	}
	plan := h.plan(t, ytSpec)
	want := DryRunResponse{JobID: plan.JobID, DryRun: true, Tasks: 6, APICalls: 6, Units: 2, Sample: plan.Sample(10), Chunks: plan.Chunks}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("dry run mismatch (-want +got):\n%s", diff)
	}
	if n := len(h.queued()); n != 0 {
		t.Errorf("%d tasks were enqueued, want none", n)
	}
	if _, err := h.store.GetJob(t.Context(), plan.JobID); err == nil {
		t.Errorf("GetJob(%s) found a job after a dry run, want none", plan.JobID)
	}
}

// A small job is enqueued by the request itself: one worker task per planned task, with the
// task as its body, the worker URL and an OIDC token for it. Posting the spec again lands on
// the same job; new_run makes another.
func TestSmallJobEnqueuesItsWorkerTasks(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	plan := h.plan(t, ytSpec)
	got := h.create(t, ytSpec)
	want := CreateResponse{JobID: plan.JobID, Created: true, PlannedTasks: 6, APICalls: 6, Enqueued: 6,
		StatusURL: h.cfg.BackfillURL + "/backfills/" + plan.JobID, State: backfill.JobRunning}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("POST /backfills mismatch (-want +got):\n%s", diff)
	}
	h.waitIdle(t)

	reqs := h.worker.requests()
	var bodies []backfill.TaskSpec
	for _, r := range reqs {
		var ts backfill.TaskSpec
		if err := json.Unmarshal(r.Body, &ts); err != nil {
			t.Errorf("worker body %s: %v", r.Body, err)
		}
		bodies = append(bodies, ts)
		if r.Path != "/run" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("worker request to %s with Content-Type %q, want /run and application/json", r.Path, r.Header.Get("Content-Type"))
		}
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if claims, err := h.tasks.VerifyOIDC(token, h.cfg.WorkerURL); err != nil || claims.Email != testAccount {
			t.Errorf("worker request token: claims %+v, %v; want a token of %s for %s", claims, err, testAccount, h.cfg.WorkerURL)
		}
	}
	sortTasks(bodies)
	if diff := gocmp.Diff(plan.Sample(6), bodies); diff != "" {
		t.Errorf("worker bodies mismatch (-want +got):\n%s", diff)
	}

	var again CreateResponse
	if code := h.post(t, ytSpec, &again); code != http.StatusOK || again.Created || again.JobID != plan.JobID || again.Enqueued != 6 {
		t.Errorf("POST /backfills again = %d %+v, want 200, the same job, created false", code, again)
	}
	h.waitIdle(t)
	if n := len(h.worker.requests()); n != 6 {
		t.Errorf("worker got %d requests after the spec was posted twice, want 6", n)
	}

	var rerun CreateResponse
	if code := h.post(t, strings.TrimSuffix(ytSpec, "}")+`,"new_run":true}`, &rerun); code != http.StatusAccepted || !rerun.Created || rerun.JobID == plan.JobID {
		t.Errorf("POST /backfills new_run = %d %+v, want 202 and a new job", code, rerun)
	}
	h.waitIdle(t)
	if n := len(h.worker.requests()); n != 12 {
		t.Errorf("worker got %d requests after new_run, want 12", n)
	}
}

// RESOURCE_EXHAUSTED from CreateTask is backed off and the job still gets all its tasks.
func TestCreateBacksOffResourceExhausted(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	h.tasks.SetFault("CreateTask", status.Error(codes.ResourceExhausted, "queue create quota exceeded"), 3)
	got := h.create(t, httpSpec(20, ""))
	if got.Enqueued != 20 || got.State != backfill.JobRunning {
		t.Errorf("POST /backfills = %+v, want 20 enqueued and running", got)
	}
	if n := len(h.queued()); n != 20 {
		t.Errorf("queue holds %d tasks, want 20", n)
	}
}

func sortTasks(ts []backfill.TaskSpec) {
	slices.SortFunc(ts, func(a, b backfill.TaskSpec) int { return cmp.Compare(a.Index, b.Index) })
}
