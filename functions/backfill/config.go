package backfill

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset" // the sources whose settings are read
	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// Defaults of the settings that have one.
const (
	// DefaultMaxTasks admits a 10,000,000-task job: the plan is computed per task on demand and
	// the fan-out creates at most EnqueueSlice tasks per request (fanout.go), so neither grows
	// with the job; such a job takes 10,000,000 / (queues x 500/s) to dispatch, 5.6 hours on
	// one queue and 1.4 on four.
	DefaultMaxTasks           = 10_000_000
	DefaultEnqueueSlice       = 1000
	DefaultEnqueueParallelism = taskqueue.DefaultParallelism
	// DefaultEnqueueRate paces one instance's creates into one queue at 5 times the queue's
	// highest dispatch rate (500/s): the fan-out, whose links run from the control queue
	// (BACKFILL_CONTROL_QUEUE), gets ahead of dispatch, without the creates taking the CPU and
	// quota the tasks need.
	DefaultEnqueueRate = 2500
	// DefaultCounterShards matches the queue's maximum of 500 dispatches per second.
	DefaultCounterShards = 500
	// DefaultDispatchDeadline is how long Cloud Tasks waits for RunBackfillTask's answer: the
	// service's own default, and Terraform's default of backfill_dispatch_deadline.
	DefaultDispatchDeadline = 10 * time.Minute
	// DefaultSweepAfter is how long a job must have recorded no outcome before a status call
	// or a scheduled sweep looks for its lost tasks (a dispatch deadline and a margin).
	DefaultSweepAfter = 15 * time.Minute
	// DefaultSweepMaxAttempts is how many tasks sweeps create for one shard before they record
	// it failed.
	DefaultSweepMaxAttempts = 3
	// DefaultSweepBudget is how many shards one sweep of one job checks.
	DefaultSweepBudget = 500
)

var queuePattern = regexp.MustCompile(`^projects/[A-Za-z0-9\-:.]+/locations/[A-Za-z0-9-]+/queues/[A-Za-z0-9-]{1,100}$`)

// Config is the function's settings, read once from the environment.
type Config struct {
	// Project is the Google Cloud project of the job store (GOOGLE_CLOUD_PROJECT).
	Project string
	// Queue is the full name of the first Cloud Tasks queue (BACKFILL_QUEUE's first name):
	// projects/P/locations/L/queues/Q.
	Queue string
	// Queues are every backfill queue (BACKFILL_QUEUE, comma-separated full names, at most
	// MaxQueues): task i of a job goes to queue i mod len(Queues).
	Queues []string
	// ControlQueue is the full name of the queue of the function's own control tasks, the
	// links of fan-out chains and the steps of retry walks (BACKFILL_CONTROL_QUEUE); empty
	// sends them to the backfill queues with the worker tasks, as before the setting existed.
	ControlQueue string
	// WorkerURL is the URL of RunBackfillTask, which worker tasks target (WORKER_URL).
	WorkerURL string
	// BackfillURL is this function's own URL, for expansion tasks and status_url (BACKFILL_URL).
	BackfillURL string
	// TasksServiceAccount is the email whose OIDC token tasks carry (TASKS_SERVICE_ACCOUNT);
	// empty sends no token, for the local stack only.
	TasksServiceAccount string
	// MaxTasks caps the tasks of one job (MAX_TASKS).
	MaxTasks int
	// Sources are the registered sources' settings a spec is checked against (an allow-list of
	// hosts), read in one loop (backfill.ReadSettings), by source name.
	Sources backfill.SourceSettings
	// AllowPrivateHosts lets specs name private addresses (ALLOW_PRIVATE_HOSTS); local
	// stack only.
	AllowPrivateHosts bool
	// EnqueueSlice is how many worker tasks one request, or one expansion task, creates
	// (ENQUEUE_SLICE); larger jobs are fanned out through expansion tasks.
	EnqueueSlice int
	// EnqueueParallelism bounds the CreateTask calls in flight (ENQUEUE_PARALLELISM).
	EnqueueParallelism int
	// EnqueueRate paces an instance's CreateTask calls, in tasks per second (ENQUEUE_RATE; 0:
	// no limit).
	EnqueueRate int
	// CounterShards is how many counter documents a job's counts are spread over
	// (COUNTER_SHARDS): at least the queue's max dispatches per second.
	CounterShards int
	// DispatchDeadline is the dispatch deadline of worker tasks (DISPATCH_DEADLINE); the
	// worker's WORK_TIMEOUT must be shorter, so that a slow task records its outcome first.
	DispatchDeadline time.Duration
	// SweepAfter is how long a job must be quiet (no outcome recorded) before a sweep that is
	// not forced looks at it (SWEEP_AFTER).
	SweepAfter time.Duration
	// SweepMaxAttempts is how many tasks sweeps create for a shard before failing it
	// (SWEEP_MAX_ATTEMPTS).
	SweepMaxAttempts int
	// SweepBudget bounds the shards one sweep of one job checks (SWEEP_BUDGET).
	SweepBudget int
	// JobEventsTopic is the id of the Pub/Sub topic a notice is published on when a job ends
	// (JOB_EVENTS_TOPIC; shared/jobnotice).
	JobEventsTopic string
}

// LoadConfig reads the settings through lookup (os.LookupEnv in production) and reports every
// problem at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Project:             env.Required("GOOGLE_CLOUD_PROJECT"),
		Queues:              env.List("BACKFILL_QUEUE", nil),
		ControlQueue:        env.String("BACKFILL_CONTROL_QUEUE", ""),
		WorkerURL:           env.URL("WORKER_URL", ""),
		BackfillURL:         strings.TrimSuffix(env.URL("BACKFILL_URL", ""), "/"),
		TasksServiceAccount: env.String("TASKS_SERVICE_ACCOUNT", ""),
		MaxTasks:            env.Int("MAX_TASKS", DefaultMaxTasks, 1, 100_000_000),
		Sources:             backfill.ReadSettings(env, true), // the spec's settings hold no secret
		AllowPrivateHosts:   env.Bool("ALLOW_PRIVATE_HOSTS", false),
		EnqueueSlice:        env.Int("ENQUEUE_SLICE", DefaultEnqueueSlice, 2, 100_000),
		EnqueueParallelism:  env.Int("ENQUEUE_PARALLELISM", DefaultEnqueueParallelism, 1, 1000),
		EnqueueRate:         env.Int("ENQUEUE_RATE", DefaultEnqueueRate, 0, 100_000),
		CounterShards:       env.Int("COUNTER_SHARDS", DefaultCounterShards, 1, 10_000),
		DispatchDeadline:    env.Duration("DISPATCH_DEADLINE", DefaultDispatchDeadline, 15*time.Second, 30*time.Minute),
		SweepAfter:          env.Duration("SWEEP_AFTER", DefaultSweepAfter, 0, 24*time.Hour),
		SweepMaxAttempts:    env.Int("SWEEP_MAX_ATTEMPTS", DefaultSweepMaxAttempts, 0, 100),
		SweepBudget:         env.Int("SWEEP_BUDGET", DefaultSweepBudget, 1, 100_000),
		JobEventsTopic:      env.Required("JOB_EVENTS_TOPIC"),
	}
	var errs []error
	if err := env.Err(); err != nil {
		errs = append(errs, err)
	}
	// URL accepts an unset variable; these two are required.
	for _, v := range []struct{ name, value string }{{"WORKER_URL", c.WorkerURL}, {"BACKFILL_URL", c.BackfillURL}} {
		if raw, _ := lookup(v.name); strings.TrimSpace(raw) == "" {
			errs = append(errs, fmt.Errorf("%s: required but not set", v.name))
		}
	}
	errs = append(errs, checkQueues(c.Queues)...)
	errs = append(errs, checkControlQueue(c.ControlQueue, c.Queues)...)
	if len(c.Queues) > 0 {
		c.Queue = c.Queues[0]
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("loading Backfill configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// checkQueues reports what is wrong with BACKFILL_QUEUE's names: none, more than MaxQueues, one
// that is not a full queue name, or one named twice (its tasks would go to two slots).
func checkQueues(names []string) []error {
	if len(names) == 0 {
		return []error{errors.New("BACKFILL_QUEUE: required but not set")}
	}
	var errs []error
	if len(names) > MaxQueues {
		errs = append(errs, fmt.Errorf("BACKFILL_QUEUE: %d queues, at most %d", len(names), MaxQueues))
	}
	seen := map[string]bool{}
	for _, q := range names {
		if !queuePattern.MatchString(q) {
			errs = append(errs, fmt.Errorf("BACKFILL_QUEUE: %q is not a full queue name (projects/P/locations/L/queues/Q)", q))
		}
		if seen[q] {
			errs = append(errs, fmt.Errorf("BACKFILL_QUEUE: %q is named twice", q))
		}
		seen[q] = true
	}
	return errs
}

// checkControlQueue reports what is wrong with BACKFILL_CONTROL_QUEUE: a name that is not a
// full queue name, or one of BACKFILL_QUEUE's (control tasks would again wait behind worker
// tasks, and that queue's retry config would drop links). Unset is allowed.
func checkControlQueue(name string, queues []string) []error {
	if name == "" {
		return nil
	}
	if !queuePattern.MatchString(name) {
		return []error{fmt.Errorf("BACKFILL_CONTROL_QUEUE: %q is not a full queue name (projects/P/locations/L/queues/Q)", name)}
	}
	for _, q := range queues {
		if q == name {
			return []error{fmt.Errorf("BACKFILL_CONTROL_QUEUE: %q is also a BACKFILL_QUEUE queue; name a queue of its own", name)}
		}
	}
	return nil
}

// Limits returns what a spec may ask for under this configuration.
func (c Config) Limits() backfill.Limits {
	return backfill.Limits{MaxTasks: c.MaxTasks, Settings: c.Sources, AllowPrivateHosts: c.AllowPrivateHosts}
}
