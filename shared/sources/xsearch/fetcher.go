package xsearch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// The source's settings.
const (
	// EnvBearerToken is X's bearer token: StreamTweets' secret (X_BEARER_TOKEN_SECRET), or the
	// token itself for local runs; both functions read it alike (config.Env.Credential).
	EnvBearerToken = "X_BEARER_TOKEN"
	// EnvAPIBaseURL overrides https://api.x.com/ (a local run's fake).
	EnvAPIBaseURL = "X_API_BASE_URL"
)

// Settings implements backfill.Source.
func (Source) Settings() []backfill.Setting {
	return []backfill.Setting{
		{Env: EnvBearerToken, Kind: backfill.Secret},
		{Env: EnvAPIBaseURL, Kind: backfill.URL},
	}
}

// NewFetcher implements backfill.Source.
func (Source) NewFetcher(d backfill.Deps) backfill.Fetcher {
	return NewLazy(d, XSearchConfig{})
}

// errNotConfigured is why a task cannot run on an instance deployed without the settings.
var errNotConfigured = errors.New("x_search is not configured: set X_BEARER_TOKEN_SECRET and EVENTS_TOPIC")

// Lazy is the source's fetcher: the instance's one X search client, built on the first task
// with the bearer token StreamTweets uses (read through the worker's secret resolver). It
// streams: each page's tweets are published to the events topic, in the stream's shape and with
// the stream's attributes (source x_search), before the page goes on to backfill_rows, so they
// reach tweets, tweets_dedup and the rankings as the stream's do, and a tweet both saw counts
// once (tweets_dedup and the rankings key tweets by id).
type Lazy struct {
	d    backfill.Deps
	base XSearchConfig

	mu sync.Mutex
	c  *XSearch
}

// NewLazy returns the fetcher; base supplies XSearchConfig's optional fields (MaxWait), the
// rest comes from d.
func NewLazy(d backfill.Deps, base XSearchConfig) *Lazy {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &Lazy{d: d, base: base}
}

// Fetch holds the whole search (the worker streams instead: StreamPages).
func (l *Lazy) Fetch(ctx context.Context, t backfill.TaskSpec) (*sources.Result, error) {
	res := &sources.Result{}
	calls, err := l.StreamPages(ctx, t, func(p sources.Page) error {
		res.Pages, res.Records, res.Quota = append(res.Pages, p.Body), append(res.Records, p.Records...), p.Quota
		return nil
	})
	res.APICalls = calls
	return res, err
}

// StreamPages runs the task page by page, handing each page to fn after its tweets are published.
func (l *Lazy) StreamPages(ctx context.Context, t backfill.TaskSpec, fn func(sources.Page) error) (int, error) {
	var q XSearchQuery
	if err := backfill.Request(t, &q, "an x_search query"); err != nil {
		return 0, &sources.Error{Kind: sources.Permanent, Reason: "badTask", Err: err}
	}
	c, err := l.client(ctx)
	if err != nil {
		return 0, &sources.Error{Kind: sources.Transient, Reason: "clientUnavailable", Err: err}
	}
	calls, err := c.Stream(ctx, q, func(p XPage) error {
		if err := l.publish(ctx, p.Messages); err != nil {
			return err
		}
		p.Page.Quota = p.Quota
		return fn(p.Page)
	})
	if sources.KindOf(err) == sources.AuthRevoked {
		l.drop(c)
	}
	return calls, err
}

// publish sends a page's tweets to the events topic and waits for every one: a page whose
// tweets are not all confirmed fails the task (Transient), and the retry publishes them again
// under the same tweet ids, which tweets_dedup and the rankings count once.
func (l *Lazy) publish(ctx context.Context, messages [][]byte) error {
	if len(messages) == 0 {
		return nil
	}
	msgs := make([]publish.Message, len(messages))
	for i, m := range messages {
		_, attrs, err := event.XAttributes(m, event.SourceXSearch)
		if err != nil {
			// The decoder built the message from a tweet with an id; ParseX refusing it is
			// the page's fault, and the stream publishes such messages unclassified.
			attrs = event.Attributes(event.Unclassified, event.SourceXSearch, "", "")
		}
		msgs[i] = publish.Message{Data: m, Attributes: attrs}
	}
	failed := 0
	var first error
	for _, err := range l.d.Events.PublishAll(ctx, msgs) {
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed > 0 {
		return &sources.Error{Kind: sources.Transient, Reason: "publishFailed", Err: fmt.Errorf("%d of %d tweets not published: %w", failed, len(msgs), first)}
	}
	return nil
}

func (l *Lazy) drop(c *XSearch) {
	l.mu.Lock()
	if l.c == c {
		l.c = nil
	}
	l.mu.Unlock()
	if n := l.d.Settings.Credential(EnvBearerToken).Secret; l.d.Secrets != nil && n != "" {
		l.d.Secrets.Forget(n)
	}
	l.d.Logger.Warn("X refused the bearer token; its secret will be read again on the next task")
}

func (l *Lazy) client(ctx context.Context) (*XSearch, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return l.c, nil
	}
	cred := l.d.Settings.Credential(EnvBearerToken)
	if !cred.Set() || l.d.Events == nil {
		return nil, errNotConfigured
	}
	token, err := cred.Resolve(ctx, l.d.Secrets)
	if err != nil {
		return nil, fmt.Errorf("reading the X bearer token: %w", err)
	}
	xc := l.base
	xc.BaseURL, xc.Token, xc.HTTPTimeout = l.d.Settings.Text(EnvAPIBaseURL), token, l.d.APITimeout
	xc.Transport, xc.Now, xc.Sleep, xc.Logger = l.d.Transport, l.d.Now, l.d.Sleep, l.d.Logger
	c, err := NewXSearch(xc)
	if err != nil {
		return nil, err
	}
	l.c = c
	return c, nil
}
