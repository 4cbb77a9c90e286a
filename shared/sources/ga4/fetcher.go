package ga4

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"
)

// EnvAPIBaseURL overrides https://analyticsdata.googleapis.com/ (a local run's fake).
const EnvAPIBaseURL = "GA4_API_BASE_URL"

// TaskMemory is the most a GA4 task adds to an instance's memory at any page size, the
// API's largest limit included: the body is decoded a row at a time (at most
// GA4MaxRowBytes, and the decoder's read-ahead), records leave for BigQuery in batches
// of GA4BatchRows rows and about GA4BatchBytes (each held as records, rows,
// encoded values and the append request), and the raw body goes to Firestore through two
// parts of 900 KB. scripts/bench's ga4_memory measured 13 MB of RSS over the process's start
// for a 259,200-row report at 9 dimensions and 10 metrics, at limit 250,000 (without the
// BigQuery and Firestore clients' own copies, which the margin is for). A test in terraform/
// keeps RunBackfillTask's concurrency times it, over the instance's own footprint, within its
// memory.
const TaskMemory = 24 << 20

// Settings implements backfill.Source: the Google OAuth grant (the YouTube source's settings,
// a Google account with access to the property) and the API's base URL.
func (Source) Settings() []backfill.Setting {
	return append(youtube.GrantSettings(), backfill.Setting{Env: EnvAPIBaseURL, Kind: backfill.URL})
}

// NewFetcher implements backfill.Source.
func (Source) NewFetcher(d backfill.Deps) backfill.Fetcher { return NewLazy(d, nil) }

// Lazy is the instance's one GA4 Data API client, the source's fetcher. Its credentials take
// the same path as YouTube's: the OAuth grant of YOUTUBE_*_SECRET when one is configured, else
// the function's own service account (or base's TokenSource), which the property must list as a
// viewer. Built on the first task, rebuilt when the grant is refused.
type Lazy struct {
	d    backfill.Deps
	base GA4Config

	mu sync.Mutex
	g  *GA4
}

// NewLazy returns the lazy client over d; base, when not nil, supplies GA4Config's TokenSource.
func NewLazy(d backfill.Deps, base *GA4Config) *Lazy {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	l := &Lazy{d: d}
	if base != nil {
		l.base = *base
	}
	return l
}

// Fetch runs the task's report, every page of it, held whole (the worker streams instead: see
// StreamRun). A client that cannot be built is Transient.
func (l *Lazy) Fetch(ctx context.Context, t backfill.TaskSpec) (*sources.Result, error) {
	g, err := l.client(ctx)
	if err != nil {
		return nil, &sources.Error{Kind: sources.Transient, Reason: "clientUnavailable", Err: err}
	}
	var q GA4Query
	if err := backfill.Request(t, &q, "a ga4 query"); err != nil {
		return nil, &sources.Error{Kind: sources.Permanent, Reason: "badTask", Err: err}
	}
	res, err := g.Report(ctx, q)
	if sources.KindOf(err) == sources.AuthRevoked {
		l.drop(g)
	}
	return res, err
}

// StreamReport streams a report (GA4.Stream) on the shared client.
func (l *Lazy) StreamReport(ctx context.Context, q GA4Query, sampled bool, sink GA4Sink) (GA4Summary, error) {
	g, err := l.client(ctx)
	if err != nil {
		return GA4Summary{}, &sources.Error{Kind: sources.Transient, Reason: "clientUnavailable", Err: err}
	}
	sum, err := g.Stream(ctx, q, sampled, sink)
	if sources.KindOf(err) == sources.AuthRevoked {
		l.drop(g)
	}
	return sum, err
}

// drop forgets g (unless another task already replaced it) and the grant's secrets.
func (l *Lazy) drop(g *GA4) {
	l.mu.Lock()
	if l.g == g {
		l.g = nil
	}
	l.mu.Unlock()
	youtube.ForgetGrant(l.d.Settings, l.d.Secrets)
	l.d.Logger.Warn("the GA4 grant was refused; its secrets will be read again on the next task")
}

func (l *Lazy) client(ctx context.Context) (*GA4, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.g != nil {
		return l.g, nil
	}
	s := l.d.Settings
	gc := l.base
	gc.Now, gc.Logger, gc.Transport = l.d.Now, l.d.Logger, l.d.Transport
	if youtube.GrantConfigured(s) {
		var err error
		if gc.ClientID, gc.ClientSecret, gc.RefreshToken, err = youtube.Grant(ctx, s, l.d.Secrets); err != nil {
			return nil, err
		}
		gc.TokenURL = s.Text(youtube.EnvTokenURL)
	}
	gc.BaseURL, gc.HTTPTimeout = s.Text(EnvAPIBaseURL), l.d.APITimeout
	g, err := NewGA4(context.WithoutCancel(ctx), gc)
	if err != nil {
		return nil, err
	}
	l.g = g
	return g, nil
}

// StreamRun implements the worker's SinkStreamer: the task runs as its report arrives, each
// page's body to the raw writer in pieces and its records to BigQuery in batches while the page
// is still being read, so the task holds TaskMemory at most whatever its size.
func (l *Lazy) StreamRun(t backfill.TaskSpec) (backfill.SinkRun, error) {
	r := &run{l: l, t: t}
	if err := backfill.Request(t, &r.q, "a ga4 query"); err != nil {
		return nil, err
	}
	return r, nil
}

// run is one task's streamed run, over the worker's in-process retries. The report's sampling
// is known only after a page's rows; a fetch whose rows went out with the wrong "sampled" flag
// starts over once a task, under a new fetched_at (the rows of the abandoned fetch have no
// marker, so backfill_rows_dedup never shows them).
type run struct {
	l         *Lazy
	t         backfill.TaskSpec
	q         GA4Query
	sampled   bool
	restarts  int
	abandoned int
}

func (r *run) Attempt(ctx context.Context, sink backfill.Sink) (backfill.StreamSummary, error) {
	for {
		fetchedAt := sink.Start()
		sum, err := r.l.StreamReport(ctx, r.q, r.sampled, GA4Sink{
			Records: func(first int, recs []map[string]any) error {
				return sink.Rows(Rows(r.t, recs, first, fetchedAt))
			},
			Body:    sink.Body,
			EndPage: sink.EndPage,
		})
		var changed *GA4SamplingError
		if errors.As(err, &changed) && r.restarts == 0 {
			r.restarts++
			r.sampled = changed.Sampled
			r.abandoned += sum.APICalls
			continue
		}
		return backfill.StreamSummary{APICalls: sum.APICalls, Pages: sum.Pages, Quota: sum.Quota.Report(), Abandoned: r.abandoned}, err
	}
}
