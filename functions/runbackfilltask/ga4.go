package runbackfilltask

import (
	"context"
	"sync"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// LazyGA4 is the instance's one GA4 Data API client, the ga4 source's Fetcher. Its credentials
// take the same path as YouTube's: the OAuth grant of YOUTUBE_*_SECRET when one is configured
// (a Google account with access to the property), else the function's own service account,
// which the property must list as a viewer. Built on the first task, rebuilt when the grant is
// refused.
type LazyGA4 struct {
	cfg     Config
	secrets SecretResolver
	base    sources.GA4Config

	mu sync.Mutex
	g  *sources.GA4
}

// NewLazyGA4 returns the lazy client; base supplies GA4Config's optional fields (Now, Logger,
// Transport, TokenSource), the rest comes from cfg.
func NewLazyGA4(cfg Config, resolver SecretResolver, base sources.GA4Config) *LazyGA4 {
	base.Logger = newLogger(base.Logger)
	return &LazyGA4{cfg: cfg, secrets: resolver, base: base}
}

// Fetch runs the task's report, every page of it, held whole (the worker streams instead: see
// StreamReport). A client that cannot be built is Transient.
func (l *LazyGA4) Fetch(ctx context.Context, t backfill.TaskSpec) (*sources.Result, error) {
	g, err := l.client(ctx)
	if err != nil {
		return nil, &sources.Error{Kind: sources.Transient, Reason: "clientUnavailable", Err: err}
	}
	var q sources.GA4Query
	if err := backfill.Request(t, &q, "a ga4 query"); err != nil {
		return nil, &sources.Error{Kind: sources.Permanent, Reason: "badTask", Err: err}
	}
	res, err := g.Report(ctx, q)
	if sources.KindOf(err) == sources.AuthRevoked {
		l.drop(g)
	}
	return res, err
}

// StreamReport streams the task's report (sources.GA4.Stream) on the shared client: tasks run
// this way (GA4Streamer); Fetch holds the whole report.
func (l *LazyGA4) StreamReport(ctx context.Context, q sources.GA4Query, sampled bool, sink sources.GA4Sink) (sources.GA4Summary, error) {
	g, err := l.client(ctx)
	if err != nil {
		return sources.GA4Summary{}, &sources.Error{Kind: sources.Transient, Reason: "clientUnavailable", Err: err}
	}
	sum, err := g.Stream(ctx, q, sampled, sink)
	if sources.KindOf(err) == sources.AuthRevoked {
		l.drop(g)
	}
	return sum, err
}

// drop forgets g (unless another task already replaced it) and the grant's secrets.
func (l *LazyGA4) drop(g *sources.GA4) {
	l.mu.Lock()
	if l.g == g {
		l.g = nil
	}
	l.mu.Unlock()
	if l.secrets != nil {
		l.secrets.Forget(l.cfg.ClientID.Secret, l.cfg.ClientSecret.Secret, l.cfg.RefreshToken.Secret)
	}
	l.base.Logger.Warn("the GA4 grant was refused; its secrets will be read again on the next task")
}

func (l *LazyGA4) client(ctx context.Context) (*sources.GA4, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.g != nil {
		return l.g, nil
	}
	gc := l.base
	if l.cfg.YouTubeConfigured() {
		// The grant's secrets are read as LazyYouTube reads them.
		yt := &LazyYouTube{cfg: l.cfg, secrets: l.secrets}
		var err error
		if gc.ClientID, err = yt.resolve(ctx, l.cfg.ClientID); err != nil {
			return nil, err
		}
		if gc.ClientSecret, err = yt.resolve(ctx, l.cfg.ClientSecret); err != nil {
			return nil, err
		}
		if gc.RefreshToken, err = yt.resolve(ctx, l.cfg.RefreshToken); err != nil {
			return nil, err
		}
		gc.TokenURL = l.cfg.TokenURL
	}
	gc.BaseURL, gc.HTTPTimeout = l.cfg.GA4APIBaseURL, l.cfg.APITimeout
	g, err := sources.NewGA4(context.WithoutCancel(ctx), gc)
	if err != nil {
		return nil, err
	}
	l.g = g
	return g, nil
}
