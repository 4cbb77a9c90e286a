// Package backfill is the Backfill HTTP Cloud Function: it takes a backfill spec (POST
// /backfills), plans it into tasks, records the job in Firestore and fans the tasks out to the
// RunBackfillTask worker through Cloud Tasks, and it reports (GET /backfills/{id}), retries
// the failed tasks of (:retry) and cancels (:cancel) jobs.
//
// Fan-out: a job of at most ENQUEUE_SLICE tasks is enqueued by the request that creates it.
// A larger one is cut into at most 2 chains per queue of expansion tasks that Cloud Tasks
// delivers back to this function (/backfills/{id}:expand, body {"from":N,"to":M}) from the
// control queue (BACKFILL_CONTROL_QUEUE), apart from the worker tasks' queues; each link
// creates the worker tasks of its first ENQUEUE_SLICE and then the link of the rest, so the
// expansions in flight do not grow with the job (fanout.go). Every task
// name is derived from job, range or index (and retry generation), so Cloud Tasks' at-least-once
// delivery and resent requests never create a task twice, and the job's enqueued count, to
// which only newly created tasks are added, stays exact; the job moves to running when it
// reaches the planned count.
//
// Reference: docs/backfills.md.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/jobnotice"
	"github.com/pipelinekit/pipelinekit/shared/lazy"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// EntryPoint is the name the function is registered under: Terraform's entry_point.
const EntryPoint = "Backfill"

// entry is the process's one handler, built on its first request: what the Functions
// Framework serves and what Serve calls. Nothing is dialled at start-up, so that a deploy with
// a bad setting answers 500 saying which, instead of crashing.
var entry = lazy.FromEnv(EntryPoint, logging.Default(), LoadConfig, func(ctx context.Context, cfg Config) (http.Handler, error) {
	h, _, err := NewHandler(ctx, cfg, logging.Default())
	return h, err
})

func init() {
	functions.HTTP(EntryPoint, entry.ServeHTTP)
}

// Serve is the entry point's handler. Deployed, the function is served at "/" and needs
// nothing more; where the Functions Framework serves every function of the process at
// "/<EntryPoint>" (the local stack), it matches that path exactly, so the process must also
// route the subtree: funcframework.RegisterHTTPFunctionContext(ctx, "/Backfill/", backfill.Serve).
func Serve(w http.ResponseWriter, r *http.Request) { entry.ServeHTTP(w, r) }

// NewHandler builds the production handler from cfg: a Firestore job store, a Cloud Tasks
// enqueuer on each of cfg.Queues (the emulator when CLOUD_TASKS_EMULATOR_HOST is set), a publisher of
// job notices on cfg.JobEventsTopic and the Service behind the trace-logging middleware. The
// clients live until shutdown is called; ctx is used only to create them.
func NewHandler(ctx context.Context, cfg Config, logger *slog.Logger) (h http.Handler, shutdown func() error, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	fs, err := firestore.NewClient(ctx, cfg.Project)
	if err != nil {
		return nil, nil, fmt.Errorf("creating Firestore client for project %s: %w", cfg.Project, err)
	}
	tasks, err := cloudtasks.NewClient(ctx, taskqueue.ClientOptions()...)
	if err != nil {
		fs.Close()
		return nil, nil, fmt.Errorf("creating Cloud Tasks client: %w", err)
	}
	ps, err := pubsub.NewClient(ctx, cfg.Project)
	if err != nil {
		tasks.Close()
		fs.Close()
		return nil, nil, fmt.Errorf("creating Pub/Sub client for project %s: %w", cfg.Project, err)
	}
	notices := jobnotice.NewPublisher(ps, cfg.JobEventsTopic)
	store := backfill.NewStore(fs, backfill.WithCounterShards(cfg.CounterShards), backfill.WithLogger(logger))
	enqs := make([]*taskqueue.Enqueuer, 0, len(cfg.Queues))
	for _, q := range cfg.Queues {
		enqs = append(enqs, taskqueue.New(tasks, q, taskqueue.WithParallelism(cfg.EnqueueParallelism), taskqueue.WithRate(float64(cfg.EnqueueRate)), taskqueue.WithLogger(logger)))
	}
	opts := []Option{WithMoreQueues(enqs[1:]...), WithNotices(notices)}
	if cfg.ControlQueue != "" {
		opts = append(opts, WithControlQueue(taskqueue.New(tasks, cfg.ControlQueue, taskqueue.WithParallelism(cfg.EnqueueParallelism), taskqueue.WithLogger(logger))))
	}
	shutdown = func() error {
		notices.Stop()
		var errs []error
		if err := ps.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing Pub/Sub client: %w", err))
		}
		if err := tasks.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing Cloud Tasks client: %w", err))
		}
		if err := fs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing Firestore client: %w", err))
		}
		return errors.Join(errs...)
	}
	return logging.Middleware(cfg.Project, NewService(cfg, store, enqs[0], logger, opts...)), shutdown, nil
}
