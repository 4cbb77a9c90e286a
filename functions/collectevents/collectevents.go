// Package collectevents is the CollectEvents HTTP Cloud Function: apps POST their events (as a
// JSON array, one JSON object, or NDJSON), each event is validated against the app event contract
// (shared/event), events whose app and id were already published are dropped, and the rest are
// published to the events topic with the contract's attributes. The answer says, per event, whether it was
// accepted, rejected (and why), a duplicate, or failed and should be sent again.
//
// Dedup is per app (an event without "app" is the default app's) and mark-after-publish: an id
// is recorded in Firestore only after its publish succeeded, so dedup can never lose an event; a
// crash between the two lets a resend publish a second copy, which the loader's dedup view (keyed
// by app and event id) absorbs.
//
// Reference: docs/event-contract.md.
package collectevents

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/pipelinekit/pipelinekit/shared/lazy"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

// EntryPoint is the name the function is registered under: Terraform's entry_point.
const EntryPoint = "CollectEvents"

func init() {
	logger := logging.Default()
	// Nothing is dialled here: the clients are built on the first request, so that a deploy
	// with a bad setting answers 500 saying which, instead of crashing at start-up.
	h := lazy.FromEnv(EntryPoint, logger, LoadConfig, func(ctx context.Context, cfg Config) (http.Handler, error) {
		h, _, err := NewHandler(ctx, cfg, logger)
		return h, err
	})
	functions.HTTP(EntryPoint, h.ServeHTTP)
}

// NewHandler builds the production handler from cfg: a Pub/Sub publisher to cfg.Topic, a
// Firestore deduper, and the Collector behind the trace-logging middleware. The clients it
// creates live until shutdown is called; ctx is used only to create them.
func NewHandler(ctx context.Context, cfg Config, logger *slog.Logger) (h http.Handler, shutdown func() error, err error) {
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
	keys := writekeys.NewCache(writekeys.NewFirestoreStore(fs, cfg.WriteKeysCollection), cfg.WriteKeyTTL, nil)
	c := NewCollector(pub, NewFirestoreDeduper(fs, cfg.DedupCollection, cfg.DedupTTL), nil, logger, cfg.Limits()).
		WithGate(NewGate(keys, cfg.RequireWriteKey, cfg.RateLimitShares, nil))
	shutdown = func() error {
		pub.Stop()
		fsErr := fs.Close()
		if err := ps.Close(); err != nil {
			return fmt.Errorf("closing Pub/Sub client: %w", err)
		}
		if fsErr != nil {
			return fmt.Errorf("closing Firestore client: %w", fsErr)
		}
		return nil
	}
	return logging.Middleware(cfg.Project, c), shutdown, nil
}
