// Package runbackfilltask is the RunBackfillTask HTTP Cloud Function, the target of the
// backfill queue: each Cloud Task carries one backfill.TaskSpec (one task of a registered
// source, run through the source's fetcher). The worker checks the job (a cancelled or blocked job's tasks
// make no API call), fetches, keeps the raw pages in Firestore, appends the rows to BigQuery's
// backfill_rows and then records the outcome, exactly once per shard, in the job store.
//
// Whether a failure is retried (answered 503 or 429, with the API's Retry-After), failed
// (answered 200) or blocks the job is decided in one place, decide, from the error's kind and
// whether this is the queue's last attempt. Cloud Tasks delivers at least once: a task run
// twice appends its rows twice under the same (job_id, shard, row_index) keys, which the
// backfill_rows_dedup view collapses, and is counted once, because the store records only the
// first final outcome of a shard.
//
// Reference: docs/backfills.md.
package runbackfilltask

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"google.golang.org/api/option"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/lazy"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/secrets"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
)

// EntryPoint is the name the function is registered under: Terraform's entry_point.
const EntryPoint = "RunBackfillTask"

func init() {
	logger := logging.Default()
	// Nothing is dialled here: the clients are built on the first request, so that a deploy
	// with a bad setting answers 500 saying which (and Cloud Tasks retries) instead of
	// crashing at start-up.
	h := lazy.FromEnv(EntryPoint, logger, LoadConfig, func(ctx context.Context, cfg Config) (http.Handler, error) {
		h, _, err := NewHandler(ctx, cfg, logger)
		return h, err
	})
	functions.HTTP(EntryPoint, h.ServeHTTP)
}

// NewHandler builds the production handler from cfg: the Firestore job store, the BigQuery
// Storage Write client (both pointed at local servers by FIRESTORE_EMULATOR_HOST and
// BIGQUERY_EMULATOR_HOST), and every registered source's fetcher over its settings, reading
// secrets from Secret Manager (secretOpts are that client's options), all behind the
// trace-logging middleware. The clients live until shutdown is called;
// ctx is used only to create them.
func NewHandler(ctx context.Context, cfg Config, logger *slog.Logger, secretOpts ...option.ClientOption) (h http.Handler, shutdown func() error, err error) {
	logger = newLogger(logger)
	fs, err := firestore.NewClient(ctx, cfg.Project)
	if err != nil {
		return nil, nil, fmt.Errorf("creating Firestore client for project %s: %w", cfg.Project, err)
	}
	wh, err := warehouse.New(ctx, cfg.Project, cfg.Dataset, schemas.Table, logger, warehouse.WriteClientOptions()...)
	if err != nil {
		fs.Close()
		return nil, nil, fmt.Errorf("starting the BigQuery writer: %w", err)
	}
	store := backfill.NewStore(fs, backfill.WithCounterShards(cfg.CounterShards), backfill.WithLogger(logger))
	resolver := secrets.New(secretOpts...)
	// Sources that find events (tweets) publish them to the events topic, as StreamTweets does.
	var pub *publish.Publisher
	var ps *pubsub.Client
	if cfg.EventsTopic != "" {
		if ps, err = pubsub.NewClient(ctx, cfg.Project); err != nil {
			wh.Close()
			fs.Close()
			return nil, nil, fmt.Errorf("creating Pub/Sub client for project %s: %w", cfg.Project, err)
		}
		pub = publish.New(ps, cfg.EventsTopic, publish.DefaultSettings())
	}
	fetchers := backfill.Fetchers(backfill.Deps{Secrets: resolver, Events: eventPublisher(pub),
		AllowPrivateHosts: cfg.AllowPrivateHosts, APITimeout: cfg.APITimeout, Logger: logger}, cfg.Sources)
	w := NewWorker(store, wh, Options{MaxAttempts: cfg.QueueMaxAttempts, Logger: logger,
		JobCacheTTL: DefaultJobCacheTTL, APIRetries: DefaultAPIRetries, MaxCommits: DefaultMaxCommits, Budget: cfg.WorkTimeout,
		Fetchers: fetchers})
	shutdown = func() error {
		var psErr error
		if pub != nil {
			pub.Stop()
			psErr = ps.Close()
		}
		return errors.Join(withoutEOF(wh.Close()), fs.Close(), resolver.Close(), psErr)
	}
	return logging.Middleware(cfg.Project, w), shutdown, nil
}

// eventPublisher is pub as a backfill.EventPublisher, nil (not a nil pointer in an interface)
// when there is none.
func eventPublisher(pub *publish.Publisher) backfill.EventPublisher {
	if pub == nil {
		return nil
	}
	return pub
}

// withoutEOF drops io.EOF from err (a single or joined error): managedwriter reports a
// stream's normal end as io.EOF when it is closed, which is not a failure to shut down.
func withoutEOF(err error) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var kept []error
	for _, e := range errs {
		if e != nil && !errors.Is(e, io.EOF) {
			kept = append(kept, e)
		}
	}
	return errors.Join(kept...)
}
