package backfill

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
)

func TestLoadConfig(t *testing.T) {
	required := map[string]string{
		"GOOGLE_CLOUD_PROJECT": "p", "BACKFILL_QUEUE": "projects/p/locations/us-central1/queues/backfill",
		"WORKER_URL": "https://run-backfill-task-xyz.a.run.app", "BACKFILL_URL": "https://backfill-xyz.a.run.app/",
		"JOB_EVENTS_TOPIC": "backfill-job-events",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range required {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	base := Config{Project: "p", Queue: "projects/p/locations/us-central1/queues/backfill", Queues: []string{"projects/p/locations/us-central1/queues/backfill"},
		WorkerURL: "https://run-backfill-task-xyz.a.run.app", BackfillURL: "https://backfill-xyz.a.run.app",
		MaxTasks: 10_000_000, EnqueueSlice: 1000, EnqueueParallelism: 32, EnqueueRate: 2500, CounterShards: 500,
		DispatchDeadline: 10 * time.Minute, SweepAfter: 15 * time.Minute, SweepMaxAttempts: 3, SweepBudget: 500,
		JobEventsTopic: "backfill-job-events"}
	functest.CheckLoadConfig(t, LoadConfig, []functest.ConfigCase[Config]{
		{Name: "defaults", Env: required, Want: base},
		{
			Name: "everything set",
			Env: with(map[string]string{"TASKS_SERVICE_ACCOUNT": "tasks@p.iam.gserviceaccount.com", "MAX_TASKS": "5000",
				"HTTP_JSON_ALLOWED_HOSTS": "api.example.com, *.example.org", "ALLOW_PRIVATE_HOSTS": "true",
				"ENQUEUE_SLICE": "50", "ENQUEUE_PARALLELISM": "4", "ENQUEUE_RATE": "0", "COUNTER_SHARDS": "100",
				"DISPATCH_DEADLINE": "20m", "SWEEP_AFTER": "0s", "SWEEP_MAX_ATTEMPTS": "5", "SWEEP_BUDGET": "10"}),
			Want: func() Config {
				c := base
				c.TasksServiceAccount, c.MaxTasks, c.Sources, c.AllowPrivateHosts = "tasks@p.iam.gserviceaccount.com", 5000, httpjson.HostSettings("api.example.com", "*.example.org"), true
				c.EnqueueSlice, c.EnqueueParallelism, c.EnqueueRate, c.CounterShards = 50, 4, 0, 100
				c.DispatchDeadline, c.SweepAfter, c.SweepMaxAttempts, c.SweepBudget = 20*time.Minute, 0, 5, 10
				return c
			}(),
		},
		{
			Name: "twenty queues",
			Env:  with(map[string]string{"BACKFILL_QUEUE": queueList(MaxQueues)}),
			Want: func() Config {
				c := base
				c.Queues = strings.Split(queueList(MaxQueues), ",")
				return c
			}(),
		},
		{Name: "twenty-one queues", Env: with(map[string]string{"BACKFILL_QUEUE": queueList(MaxQueues + 1)}), WantErr: []string{"BACKFILL_QUEUE: 21 queues, at most 20"}},
		{
			Name:    "a queue named twice",
			Env:     with(map[string]string{"BACKFILL_QUEUE": "projects/p/locations/us-central1/queues/backfill, projects/p/locations/us-central1/queues/backfill"}),
			WantErr: []string{`BACKFILL_QUEUE: "projects/p/locations/us-central1/queues/backfill" is named twice`},
		},
		{
			Name: "every problem reported",
			Env: map[string]string{"BACKFILL_QUEUE": "backfill", "WORKER_URL": "not a url", "MAX_TASKS": "lots",
				"ENQUEUE_SLICE": "1", "ENQUEUE_PARALLELISM": "0", "ENQUEUE_RATE": "-5", "COUNTER_SHARDS": "-1", "ALLOW_PRIVATE_HOSTS": "maybe",
				"DISPATCH_DEADLINE": "1h", "SWEEP_MAX_ATTEMPTS": "-1"},
			WantErr: []string{"GOOGLE_CLOUD_PROJECT: required", "BACKFILL_URL: required", "JOB_EVENTS_TOPIC: required", `WORKER_URL: "not a url"`,
				`BACKFILL_QUEUE: "backfill" is not a full queue name`, "MAX_TASKS", "ENQUEUE_SLICE", "ENQUEUE_PARALLELISM", "ENQUEUE_RATE",
				"COUNTER_SHARDS", "ALLOW_PRIVATE_HOSTS", "DISPATCH_DEADLINE", "SWEEP_MAX_ATTEMPTS"},
		},
	})
}

func TestChildRanges(t *testing.T) {
	r := func(from, to int) backfill.Range { return backfill.Range{From: from, To: to} }
	tests := []struct {
		name  string
		in    backfill.Range
		slice int
		want  []backfill.Range
	}{
		{"one level", r(0, 120), 50, []backfill.Range{r(0, 50), r(50, 100), r(100, 120)}},
		{"exactly slice squared", r(0, 100), 10, []backfill.Range{r(0, 10), r(10, 20), r(20, 30), r(30, 40), r(40, 50), r(50, 60), r(60, 70), r(70, 80), r(80, 90), r(90, 100)}},
		{"two levels", r(0, 250), 10, []backfill.Range{r(0, 100), r(100, 200), r(200, 250)}},
		{"an inner range", r(100, 200), 10, []backfill.Range{r(100, 110), r(110, 120), r(120, 130), r(130, 140), r(140, 150), r(150, 160), r(160, 170), r(170, 180), r(180, 190), r(190, 200)}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, childRanges(tt.in, tt.slice)); diff != "" {
			t.Errorf("%s: childRanges(%v, %d) mismatch (-want +got):\n%s", tt.name, tt.in, tt.slice, diff)
		}
	}
	// A million tasks at the default slice: a thousand expansion tasks from the first request.
	if got := len(childRanges(r(0, 1_000_000), 1000)); got != 1000 {
		t.Errorf("len(childRanges([0, 1e6), 1000)) = %d, want 1000", got)
	}
	if got := childRanges(r(0, 1_000_000), 50); len(got) > 50 {
		t.Errorf("len(childRanges([0, 1e6), 50)) = %d, want at most 50", len(got))
	}
}

// queueList is BACKFILL_QUEUE naming n queues: backfill, backfill-1, ...
func queueList(n int) string {
	names := []string{"projects/p/locations/us-central1/queues/backfill"}
	for i := 1; i < n; i++ {
		names = append(names, fmt.Sprintf("projects/p/locations/us-central1/queues/backfill-%d", i))
	}
	return strings.Join(names, ",")
}
