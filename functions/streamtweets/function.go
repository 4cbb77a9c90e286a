// Package streamtweets is the StreamTweets HTTP function: Cloud Scheduler calls it every minute,
// and each run takes the Firestore stream lease (X allows one filtered-stream connection per app,
// and runs overlap), syncs the stream's rules to the configured ones, reads the X API v2 filtered
// stream for STREAM_DURATION (27 minutes by default), publishes every message to the events
// topic with the event contract's attributes, then releases the lease and answers a JSON summary.
//
// Runs overlap on purpose: the run that arrives in the last LEASE_WAIT of the holder's read
// window waits for the lease and connects the moment it is released, so the stream is
// disconnected for about one reconnect per hand-over; STREAM_BACKFILL_MINUTES, where X's access
// level allows it, has each connection replay what the gap missed.
//
// A run that finds the lease held answers 200 skipped; a run that held the lease but read
// nothing says why in not_read (and logs a warning); a run that could not publish everything,
// was refused by X, or lost its lease answers 500, so that Scheduler shows the failure.
//
// Reference: docs/x-stream.md.
package streamtweets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"google.golang.org/api/option"

	"github.com/pipelinekit/pipelinekit/shared/lazy"
	"github.com/pipelinekit/pipelinekit/shared/lease"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// EntryPoint is the name the function is registered and deployed under: Terraform's entry_point.
const EntryPoint = "StreamTweets"

func init() {
	h := lazy.FromEnv(EntryPoint, logging.Default(), LoadConfig, build(logging.Default()))
	functions.HTTP(EntryPoint, h.ServeHTTP)
}

// HandlerOptions adjust NewHandler for tests and local runs.
type HandlerOptions struct {
	// Settings override the run settings derived from Config where non-zero (Margin,
	// RenewEvery, FlushTimeout).
	Settings Settings
	// LeaseOptions are passed to lease.New, e.g. lease.WithClock.
	LeaseOptions []lease.Option
	// Now is the Streamer's clock; nil means time.Now.
	Now func() time.Time
	// SecretManager are client options for the Secret Manager client.
	SecretManager []option.ClientOption
}

// NewHandler builds the production handler from cfg: Pub/Sub and Firestore clients of
// cfg.Project, the bearer token (from Secret Manager, read on the first run), and the Streamer
// behind the trace-logging middleware. The clients live until shutdown is called; ctx is used
// only to create them.
func NewHandler(ctx context.Context, cfg Config, logger *slog.Logger, o HandlerOptions) (h http.Handler, shutdown func() error, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	ps, err := pubsub.NewClient(ctx, cfg.Project)
	if err != nil {
		return nil, nil, fmt.Errorf("creating Pub/Sub client for project %s: %w", cfg.Project, err)
	}
	fs, err := firestore.NewClient(ctx, cfg.Project)
	if err != nil {
		ps.Close()
		return nil, nil, fmt.Errorf("creating Firestore client for project %s: %w", cfg.Project, err)
	}
	pub := publish.New(ps, cfg.Topic, publish.DefaultSettings())

	token := func(context.Context) (string, error) { return cfg.Token, nil }
	var secret *SecretToken
	set := o.Settings
	if cfg.TokenSecret != "" {
		secret = NewSecretToken(cfg.TokenSecret, o.SecretManager...)
		token = secret.Token
		set.ForgetToken = secret.Forget
	}
	newClient := func(ctx context.Context) (*xstream.Client, error) {
		tok, err := token(ctx)
		if err != nil {
			return nil, err
		}
		return &xstream.Client{BaseURL: cfg.BaseURL, Token: tok, Logger: logger}, nil
	}
	leaseOpts := append([]lease.Option{lease.WithLogger(logger)}, o.LeaseOptions...)
	newLease := func(holder string) Lease {
		return NewFirestoreLease(fs, cfg.LeaseDoc, holder, cfg.LeaseTTL, leaseOpts...)
	}
	set.Rules, set.Params, set.Langs = cfg.Rules, cfg.Params, cfg.Langs
	set.Duration, set.LeaseTTL, set.BackfillMinutes = cfg.Duration, cfg.LeaseTTL, cfg.Backfill
	if set.LeaseWait == 0 {
		set.LeaseWait = cfg.LeaseWait
		if set.LeaseWait == 0 {
			set.LeaseWait = -1 // LEASE_WAIT=0s: never wait
		}
	}
	s := NewStreamer(newClient, PubSub(pub), newLease, o.Now, logger, set)

	shutdown = func() error {
		pub.Stop()
		var errs []error
		if secret != nil {
			errs = append(errs, secret.Close())
		}
		if err := fs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing Firestore client: %w", err))
		}
		if err := ps.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing Pub/Sub client: %w", err))
		}
		return errors.Join(errs...)
	}
	return logging.Middleware(cfg.Project, s), shutdown, nil
}

// build makes the handler of a configuration, on the first request (see lazy.FromEnv).
func build(log *slog.Logger) func(context.Context, Config) (http.Handler, error) {
	return func(ctx context.Context, cfg Config) (http.Handler, error) {
		h, _, err := NewHandler(ctx, cfg, log, HandlerOptions{})
		return h, err
	}
}
