// Package updaterankings is the UpdateRankings function: triggered by Pub/Sub through a
// subscription whose filter passes only the kinds the rankings use (tweets, deletes, searches
// and detail views), it records each event in the rankings store (shared/rankings): counters,
// recent views and latest tweets, idempotent by event id.
//
// Reference: docs/rankings.md.
package updaterankings

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/lazy"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// EntryPoint is the name the function is registered and deployed under.
const EntryPoint = "UpdateRankings"

// Filter is the subscription filter on the kind attribute: only what the rankings use is
// delivered (Terraform's and the local stack's subscriptions both use it).
const Filter = `attributes.kind = "tweet" OR attributes.kind = "retweet" OR attributes.kind = "reply" OR ` +
	`attributes.kind = "quote" OR attributes.kind = "delete" OR attributes.kind = "search" OR attributes.kind = "detail_view"`

func init() {
	// An HTTP function reading every delivery shape (pushdelivery.Handler): Terraform's
	// subscription is a plain push subscription, whose body is no CloudEvent, and Eventarc sends
	// binary CloudEvents. Not functions.CloudEvent either: the framework's CloudEvent handler
	// (the CloudEvents SDK's NewHTTPReceiveHandler) passes each request through one shared
	// channel to a goroutine per request, so concurrent deliveries are handled by each other's
	// goroutines, under each other's contexts, and now and then one is never answered.
	// Deliveries here are concurrent by design (the store commits them in groups).
	functions.HTTP(EntryPoint, pushdelivery.Handler(EntryPoint, updater.Get, logging.Default()))
}

// Config is the function's configuration, read from the environment.
type Config struct {
	Project string // GOOGLE_CLOUD_PROJECT
	// Database is the rankings' Firestore database (RANKINGS_DATABASE).
	Database string
	// Shards is how many documents each bucket's counters spread over (RANKINGS_SHARDS).
	Shards int
	// Layout is how each event is kept counting once (RANKINGS_LAYOUT: log, the default, or
	// markers; shared/rankings/log.go).
	Layout rankings.Layout
}

// LoadConfig reads the Config through lookup.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{Project: env.Required("GOOGLE_CLOUD_PROJECT"), Database: env.String("RANKINGS_DATABASE", rankings.DefaultDatabase),
		Shards: env.Int("RANKINGS_SHARDS", 16, 1, 500),
		Layout: rankings.Layout(env.OneOf("RANKINGS_LAYOUT", string(rankings.LayoutLog), string(rankings.LayoutLog), string(rankings.LayoutMarkers)))}
	return c, env.Err()
}

var updater = lazy.NewValue(func(ctx context.Context) (*Updater, error) {
	log := logging.Default()
	cfg, err := LoadConfig(os.LookupEnv)
	if err != nil {
		log.Error("UpdateRankings is misconfigured", "error", err)
		return nil, err
	}
	fs, err := firestore.NewClientWithDatabase(ctx, cfg.Project, cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("creating Firestore client for database %s of project %s: %w", cfg.Database, cfg.Project, err)
	}
	return NewUpdater(rankings.NewStore(fs, rankings.Options{Shards: cfg.Shards, Layout: cfg.Layout, Log: log}), nil, log), nil
})

// Applier records an event; *rankings.Store in production.
type Applier interface {
	Apply(ctx context.Context, e rankings.Entry) error
}

// Updater turns delivered messages into ranking entries.
type Updater struct {
	store Applier
	now   func() time.Time
	log   *slog.Logger
	serve http.HandlerFunc
}

// NewUpdater returns an Updater writing to store; now and log default to time.Now and slog.Default.
func NewUpdater(store Applier, now func() time.Time, log *slog.Logger) *Updater {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	u := &Updater{store: store, now: now, log: log}
	u.serve = pushdelivery.Handler(EntryPoint, func(context.Context) (*Updater, error) { return u, nil }, log)
	return u
}

// ServeHTTP answers one delivery in any shape Pub/Sub or Eventarc sends, with the contract
// pushdelivery.Handler keeps: 2xx acknowledges, 500 (a failed store write) is redelivered, 400 or
// 405 refuse what is no delivery. Each is handled on its own request's goroutine and context.
func (u *Updater) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.serve(w, r)
}

// Handle is the CloudEvent entry point. nil acknowledges the message, an error makes Pub/Sub
// deliver it again. Only a failed store write is retried: a message that does not decode can
// never count (the loader dead-letters it with its reason), and an event no ranking uses (no
// hashtag, a view without an item, an empty search) counts nowhere; both are acknowledged, so
// nothing is redelivered forever.
func (u *Updater) Handle(ctx context.Context, ce cloudevents.Event) error {
	m, err := event.MessageOfPush(ce.Data(), ce.ID(), ce.Time())
	if err != nil {
		u.log.WarnContext(ctx, "not a Pub/Sub message; ignored", "event_id", ce.ID(), "error", err)
		return nil
	}
	rec, err := event.Decode(m, u.now())
	if err != nil {
		u.log.DebugContext(ctx, "message does not decode; the loader dead-letters it", "message_id", m.ID, "reason", err.Error())
		return nil
	}
	entry, ok := rankings.EntryOf(rec)
	if !ok {
		return nil
	}
	if err := u.store.Apply(ctx, entry); err != nil {
		return fmt.Errorf("updating rankings with message %s: %w", m.ID, err)
	}
	return nil
}
