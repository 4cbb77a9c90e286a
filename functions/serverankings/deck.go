package serverankings

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/api/idtoken"

	// The registered backfill sources: the deck's column history starts a job of the one that
	// fills a keyword's history (backfill.TermHistorySource).
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
	"github.com/pipelinekit/pipelinekit/shared/deck"
)

// DeckConfig is the deck's part of Config.
type DeckConfig struct {
	DefaultKeyword string // DECK_DEFAULT_KEYWORD: the first column's word or #hashtag
	Window         string // DECK_WINDOW: the rankings' window the page shows (15m, 1h, 1d)
	// PollInterval is how often the page asks for new tweets (DECK_POLL_INTERVAL).
	PollInterval time.Duration
	// BackfillURL is the Backfill function's URL for the backfills panel (BACKFILL_URL);
	// empty hides the panel.
	BackfillURL string
	// HealthURL is the local stack's health endpoint for the health panel (DECK_HEALTH_URL):
	// a loopback http URL only, since deployed the signals are in Cloud Monitoring and the
	// deck has no source for them; empty hides the panel.
	HealthURL string
	// CollectURL is CollectEvents' URL (DECK_COLLECT_URL) and CollectKey a write key whose
	// origins include the deck's (DECK_COLLECT_KEY, publishable: it sits in the page): with
	// both, the page loads collect.js and sends its searches and views. Empty: no events.
	CollectURL string
	CollectKey string
	// SignIn is the page's sign-in (from Config.SignIn); nil is off.
	SignIn *deck.SignIn
}

// backfillClient is the client the deck calls the Backfill function with: one adding an ID
// token for it when it is a deployed (https) function, plain HTTP for a local one.
func backfillClient(ctx context.Context, backfillURL string) (*http.Client, error) {
	u, err := url.Parse(backfillURL)
	if err != nil {
		return nil, fmt.Errorf("BACKFILL_URL %q: %w", backfillURL, err)
	}
	if u.Scheme == "http" || isLoopback(u.Hostname()) {
		return http.DefaultClient, nil
	}
	// Audience: the service's base URL, as Cloud Run checks it.
	c, err := idtoken.NewClient(ctx, u.Scheme+"://"+u.Host)
	if err != nil {
		return nil, fmt.Errorf("creating an ID-token client for %s: %w", u.Host, err)
	}
	return c, nil
}

// localURL reports whether raw is an http URL of this machine: the only health source a deck
// may read.
func localURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "http" && isLoopback(u.Hostname())
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newDeck builds the deck from its configuration; log receives the backfills proxy's failures.
func newDeck(ctx context.Context, cfg DeckConfig, log *slog.Logger) (*deck.Handler, error) {
	dc := deck.Config{DefaultKeyword: cfg.DefaultKeyword, Window: cfg.Window, BackfillURL: cfg.BackfillURL,
		HealthURL: cfg.HealthURL, PollInterval: cfg.PollInterval, Log: log, CollectURL: cfg.CollectURL, CollectKey: cfg.CollectKey,
		SignIn: cfg.SignIn}
	if cfg.BackfillURL != "" {
		c, err := backfillClient(ctx, cfg.BackfillURL)
		if err != nil {
			return nil, err
		}
		dc.BackfillClient = c
	}
	d, err := deck.New(dc)
	if err != nil {
		return nil, fmt.Errorf("building the deck: %w", err)
	}
	return d, nil
}

// WithDeck serves the deck's page at "/" and "/index.html" and its assets and backfills panel
// under /deck/, and everything else (the JSON endpoints, /rankings among them) with api. Locally
// the function is served under /ServeRankings/: that prefix is stripped for the deck, and
// /ServeRankings without its slash is redirected so the page's relative URLs resolve under it.
func WithDeck(api, d http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Here rather than in each handler, so the redirect and any answer added later carry it.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		p := r.URL.Path
		if p == "/"+EntryPoint {
			target := EntryPoint + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
		rest := strings.TrimPrefix(p, "/"+EntryPoint)
		if rest == "" {
			rest = "/"
		}
		if rest == "/" || rest == "/index.html" || rest == "/deck" || strings.HasPrefix(rest, "/deck/") {
			r2 := new(http.Request)
			*r2 = *r
			u := *r.URL
			u.Path, u.RawPath = rest, ""
			r2.URL = &u
			d.ServeHTTP(w, r2)
			return
		}
		api.ServeHTTP(w, r)
	})
}
