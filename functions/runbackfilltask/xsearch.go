package runbackfilltask

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// EventPublisher publishes messages to the events topic and waits for each; *publish.Publisher
// is one.
type EventPublisher interface {
	PublishAll(ctx context.Context, msgs []publish.Message) []error
}

// errNoXSearch is why an x_search task cannot run on an instance deployed without its settings.
var errNoXSearch = errors.New("x_search is not configured: set X_BEARER_TOKEN_SECRET and EVENTS_TOPIC")

// LazyXSearch is the x_search source's fetcher: the instance's one X search client, built on the
// first task with the bearer token StreamTweets uses (X_BEARER_TOKEN_SECRET, read through the
// worker's secret resolver). It streams: each page's tweets are published to the events topic,
// in the stream's shape and with the stream's attributes (source x_search), before the page
// goes on to backfill_rows, so they reach tweets, tweets_dedup and the rankings as the stream's
// do, and a tweet both saw counts once (tweets_dedup and the rankings key tweets by id).
type LazyXSearch struct {
	cfg     Config
	secrets SecretResolver
	pub     EventPublisher
	base    sources.XSearchConfig

	mu sync.Mutex
	c  *sources.XSearch
}

// NewLazyXSearch returns the fetcher; base supplies XSearchConfig's optional fields (Now, Sleep,
// Logger, Transport), the rest comes from cfg. pub is nil when EVENTS_TOPIC is unset.
func NewLazyXSearch(cfg Config, resolver SecretResolver, pub EventPublisher, base sources.XSearchConfig) *LazyXSearch {
	base.Logger = newLogger(base.Logger)
	return &LazyXSearch{cfg: cfg, secrets: resolver, pub: pub, base: base}
}

// Fetch holds the whole search (the worker streams instead: StreamPages).
func (l *LazyXSearch) Fetch(ctx context.Context, t backfill.TaskSpec) (*sources.Result, error) {
	res := &sources.Result{}
	calls, err := l.StreamPages(ctx, t, func(p sources.Page) error {
		res.Pages, res.Records, res.Quota = append(res.Pages, p.Body), append(res.Records, p.Records...), p.Quota
		return nil
	})
	res.APICalls = calls
	return res, err
}

// StreamPages implements PageStreamer.
func (l *LazyXSearch) StreamPages(ctx context.Context, t backfill.TaskSpec, fn func(sources.Page) error) (int, error) {
	var q sources.XSearchQuery
	if err := backfill.Request(t, &q, "an x_search query"); err != nil {
		return 0, &sources.Error{Kind: sources.Permanent, Reason: "badTask", Err: err}
	}
	c, err := l.client(ctx)
	if err != nil {
		return 0, &sources.Error{Kind: sources.Transient, Reason: "clientUnavailable", Err: err}
	}
	calls, err := c.Stream(ctx, q, func(p sources.XPage) error {
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
func (l *LazyXSearch) publish(ctx context.Context, messages [][]byte) error {
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
	for _, err := range l.pub.PublishAll(ctx, msgs) {
		if err != nil {
			failed++
			first = cmpOr(first, err)
		}
	}
	if failed > 0 {
		return &sources.Error{Kind: sources.Transient, Reason: "publishFailed", Err: fmt.Errorf("%d of %d tweets not published: %w", failed, len(msgs), first)}
	}
	return nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (l *LazyXSearch) drop(c *sources.XSearch) {
	l.mu.Lock()
	if l.c == c {
		l.c = nil
	}
	l.mu.Unlock()
	if l.secrets != nil && l.cfg.XToken.Secret != "" {
		l.secrets.Forget(l.cfg.XToken.Secret)
	}
	l.base.Logger.Warn("X refused the bearer token; its secret will be read again on the next task")
}

func (l *LazyXSearch) client(ctx context.Context) (*sources.XSearch, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		return l.c, nil
	}
	if !l.cfg.XToken.set() || l.pub == nil {
		return nil, errNoXSearch
	}
	token := l.cfg.XToken.Value
	if l.cfg.XToken.Secret != "" {
		if l.secrets == nil {
			return nil, fmt.Errorf("reading secret %s: no Secret Manager resolver", l.cfg.XToken.Secret)
		}
		v, err := l.secrets.Resolve(ctx, l.cfg.XToken.Secret)
		if err != nil {
			return nil, fmt.Errorf("reading the X bearer token: %w", err)
		}
		token = v
	}
	xc := l.base
	xc.BaseURL, xc.Token, xc.HTTPTimeout = l.cfg.XAPIBaseURL, token, l.cfg.APITimeout
	c, err := sources.NewXSearch(xc)
	if err != nil {
		return nil, err
	}
	l.c = c
	return c, nil
}
