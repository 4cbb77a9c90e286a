package backfill

import (
	"fmt"
	"strings"
	"testing"
	"time"

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
			Name: "a control queue",
			Env:  with(map[string]string{"BACKFILL_CONTROL_QUEUE": "projects/p/locations/us-central1/queues/backfill-control"}),
			Want: func() Config {
				c := base
				c.ControlQueue = "projects/p/locations/us-central1/queues/backfill-control"
				return c
			}(),
		},
		{Name: "a control queue that is no full name", Env: with(map[string]string{"BACKFILL_CONTROL_QUEUE": "backfill-control"}),
			WantErr: []string{`BACKFILL_CONTROL_QUEUE: "backfill-control" is not a full queue name`}},
		{Name: "a control queue that is a worker queue", Env: with(map[string]string{"BACKFILL_CONTROL_QUEUE": "projects/p/locations/us-central1/queues/backfill"}),
			WantErr: []string{`BACKFILL_CONTROL_QUEUE: "projects/p/locations/us-central1/queues/backfill" is also a BACKFILL_QUEUE queue`}},
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

// queueList is BACKFILL_QUEUE naming n queues: backfill, backfill-1, ...
func queueList(n int) string {
	names := []string{"projects/p/locations/us-central1/queues/backfill"}
	for i := 1; i < n; i++ {
		names = append(names, fmt.Sprintf("projects/p/locations/us-central1/queues/backfill-%d", i))
	}
	return strings.Join(names, ",")
}
