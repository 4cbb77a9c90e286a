// Package serverankings is the ServeRankings HTTP function: read-only JSON endpoints for every
// ranking and window, a user's recent views, and the latest tweets for a keyword or hashtag
// with a cursor. It reads only the rankings store in Firestore, never BigQuery; answers carry
// Cache-Control and an ETag, and a bad parameter gets a 400 naming it.
//
// Reference: docs/rankings.md.
package serverankings

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/pipelinekit/pipelinekit/shared/columnsets"
	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/deck"
	"github.com/pipelinekit/pipelinekit/shared/lazy"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
	"github.com/pipelinekit/pipelinekit/shared/signin"
	"github.com/pipelinekit/pipelinekit/shared/viewtoken"
)

// EntryPoint is the name the function is registered and deployed under.
const EntryPoint = "ServeRankings"

func init() {
	logger := logging.Default()
	entry = lazy.FromEnv(EntryPoint, logger, LoadConfig, func(ctx context.Context, cfg Config) (http.Handler, error) {
		// Only the rankings' database: its grant reaches nothing else (terraform/rankings.tf).
		fs, err := firestore.NewClientWithDatabase(ctx, cfg.Project, cfg.Database)
		if err != nil {
			return nil, fmt.Errorf("creating Firestore client for database %s of project %s: %w", cfg.Database, cfg.Project, err)
		}
		store := rankings.NewStore(fs, rankings.Options{Layout: cfg.Layout, ReadOnly: true, Log: logger})
		d, err := newDeck(ctx, cfg.Deck, logger)
		if err != nil {
			return nil, err
		}
		cfg.Log = logger
		cfg.Views = viewsAuthorizer(cfg)
		acc, err := newAccounts(ctx, cfg, logger)
		if err != nil {
			return nil, err
		}
		if acc.Verifier != nil {
			cfg.Views = SignedInViews{Next: cfg.Views}
		}
		return logging.Middleware(cfg.Project, acc.Wrap(WithDeck(NewHandler(store, cfg, nil), d))), nil
	})
	functions.HTTP(EntryPoint, entry.ServeHTTP)
}

var entry *lazy.Handler

// newAccounts builds the sign-in layer the configuration names: off, or Firebase with the
// column sets in their own database (its grant reaches nothing else: terraform/deck.tf).
func newAccounts(ctx context.Context, cfg Config, log *slog.Logger) (*Accounts, error) {
	acc := &Accounts{Log: log, Admins: map[string]bool{}}
	if cfg.SignIn.Mode != AuthFirebase {
		return acc, nil
	}
	v, err := signin.NewFirebase(ctx, cfg.Project, os.Getenv)
	if err != nil {
		return nil, err
	}
	fs, err := firestore.NewClientWithDatabase(ctx, cfg.Project, cfg.SignIn.Database)
	if err != nil {
		return nil, fmt.Errorf("creating Firestore client for database %s of project %s: %w", cfg.SignIn.Database, cfg.Project, err)
	}
	acc.Verifier, acc.Sets = v, columnsets.NewStore(fs, nil)
	for _, e := range cfg.SignIn.BackfillAdmins {
		acc.Admins[strings.ToLower(strings.TrimSpace(e))] = true
	}
	return acc, nil
}

// Serve is the entry point's handler. Deployed, the function is served at "/" and sees paths
// such as /rankings/hashtags; the Functions Framework serves a registered name at exactly
// /ServeRankings, so the local functions process routes the subtree to Serve too.
func Serve(w http.ResponseWriter, r *http.Request) { entry.ServeHTTP(w, r) }

// Config is the function's configuration, read from the environment.
type Config struct {
	Project string // GOOGLE_CLOUD_PROJECT
	// Database is the rankings' Firestore database (RANKINGS_DATABASE).
	Database string
	// Layout is the layout UpdateRankings writes (RANKINGS_LAYOUT: log, the default, or markers).
	Layout rankings.Layout
	// CacheTTL is how long an instance reuses a computed ranking (RANKINGS_CACHE_TTL), and the
	// max-age of its answers.
	CacheTTL time.Duration
	// Deck configures the page served at "/" (deck.go).
	Deck DeckConfig
	// ViewsKeySecret is the Secret Manager version of the key recent-views tokens are signed
	// with (RECENT_VIEWS_KEY_SECRET, deployed); ViewsKey is the key itself (RECENT_VIEWS_KEY,
	// the local stack's). With neither, nobody reads recent views.
	ViewsKeySecret string
	ViewsKey       string
	// Log receives the internal errors that answers leave out; it is not read from the
	// environment, and nil is slog.Default().
	Log *slog.Logger
	// SignIn is the deck's sign-in (signin.go).
	SignIn SignIn
	// Views decides who reads recent views; not read from the environment (init builds it from
	// the keys above), and nil refuses everyone.
	Views ViewsAuthorizer
}

// LoadConfig reads the Config through lookup.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Project:  env.Required("GOOGLE_CLOUD_PROJECT"),
		Database: env.String("RANKINGS_DATABASE", rankings.DefaultDatabase),
		Layout:   rankings.Layout(env.OneOf("RANKINGS_LAYOUT", string(rankings.LayoutLog), string(rankings.LayoutLog), string(rankings.LayoutMarkers))),
		CacheTTL: env.Duration("RANKINGS_CACHE_TTL", 5*time.Second, 0, time.Minute),
		Deck: DeckConfig{
			DefaultKeyword: env.String("DECK_DEFAULT_KEYWORD", "pipeline"),
			Window:         env.OneOf("DECK_WINDOW", "1h", "15m", "1h", "1d"),
			PollInterval:   env.Duration("DECK_POLL_INTERVAL", 5*time.Second, 100*time.Millisecond, 10*time.Minute),
			BackfillURL:    env.URL("BACKFILL_URL", ""),
			HealthURL:      env.URL("DECK_HEALTH_URL", ""),
			CollectURL:     env.URL("DECK_COLLECT_URL", ""),
			CollectKey:     env.String("DECK_COLLECT_KEY", ""),
		},
		SignIn: SignIn{
			Mode:           env.OneOf("DECK_AUTH", AuthOff, AuthOff, AuthFirebase),
			APIKey:         env.String("DECK_FIREBASE_API_KEY", ""),
			Emulator:       env.String(signin.EmulatorHostEnv, ""),
			BackfillAdmins: env.List("DECK_BACKFILL_ADMINS", nil),
			Database:       env.String("DECK_DATABASE", columnsets.DefaultDatabase),
		},
	}
	if c.SignIn.Emulator != "" {
		if err := signin.CheckEmulatorHost(c.SignIn.Emulator); err != nil {
			env.Fail(signin.EmulatorHostEnv, "%v", err)
		}
	}
	if c.SignIn.Mode == AuthFirebase {
		if c.SignIn.APIKey == "" {
			env.Fail("DECK_FIREBASE_API_KEY", "required with DECK_AUTH=firebase: the web API key the page signs in with")
		}
		c.Deck.SignIn = &deck.SignIn{APIKey: c.SignIn.APIKey, Emulator: signin.EmulatorURL(c.SignIn.Emulator)}
	}
	if c.Deck.HealthURL != "" && !localURL(c.Deck.HealthURL) {
		env.Fail("DECK_HEALTH_URL", "%q is not an http URL on this machine (the local stack's health endpoint)", c.Deck.HealthURL)
	}
	if (c.Deck.CollectURL == "") != (c.Deck.CollectKey == "") {
		env.Fail("DECK_COLLECT_KEY", "set both DECK_COLLECT_URL and DECK_COLLECT_KEY (the deck's write key), or neither")
	}
	viewsKey := env.Credential("RECENT_VIEWS_KEY", false)
	c.ViewsKeySecret, c.ViewsKey = viewsKey.Secret, viewsKey.Value
	if c.ViewsKey != "" && c.ViewsKeySecret == "" {
		if err := viewtoken.CheckKey([]byte(c.ViewsKey)); err != nil {
			env.Fail("RECENT_VIEWS_KEY", "%v", err)
		}
	}
	return c, env.Err()
}
