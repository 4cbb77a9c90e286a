package xsearch_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch/xsearchfake"
)

// sampleStream is the stream's sample data, which the fake search serves too.
func sampleStream(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open("../../localstack/testdata/sample_stream.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

var clientNow = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func newXSearch(t *testing.T, opts ...sourcestest.Option) (*xsearchfake.XSearchServer, *xsearch.XSearch, *[]time.Duration) {
	t.Helper()
	srv := xsearchfake.NewXSearchServer(sampleStream(t), append([]sourcestest.Option{sourcestest.WithClock(func() time.Time { return clientNow })}, opts...)...)
	t.Cleanup(srv.Close)
	var slept []time.Duration
	c, err := xsearch.NewXSearch(xsearch.XSearchConfig{BaseURL: srv.URL(), Token: xsearchfake.XSearchToken,
		Now: func() time.Time { return clientNow }, Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c, &slept
}

var xQuery = xsearch.XSearchQuery{Endpoint: xsearch.XSearchRecent, Query: "#gcp", StartTime: "2026-11-21T00:00:00Z", EndTime: "2026-11-21T23:00:00Z", MaxResults: 10}

// collect runs q and returns the tweet ids of every page, in order, and the last quota.
func collect(t *testing.T, c *xsearch.XSearch, q xsearch.XSearchQuery) ([]string, *sources.Quota, int, error) {
	t.Helper()
	var ids []string
	var quota *sources.Quota
	calls, err := c.Stream(context.Background(), q, func(p xsearch.XPage) error {
		for _, m := range p.Messages {
			x, err := event.ParseX(m)
			if err != nil {
				t.Errorf("ParseX(%s): %v", m, err)
				continue
			}
			if x.Tweet.AuthorHandle == "" {
				t.Errorf("tweet %s has no author handle: includes.users did not follow it", x.Tweet.ID)
			}
			ids = append(ids, x.Tweet.ID)
		}
		if p.Quota != nil {
			quota = p.Quota
		}
		return nil
	})
	return ids, quota, calls, err
}

func TestXSearchPagesEveryTweetOnce(t *testing.T) {
	srv, c, slept := newXSearch(t)
	srv.SetPageLimit(4)
	ids, quota, calls, err := collect(t, c, xQuery)
	if err != nil {
		t.Fatal(err)
	}
	want := srv.IDs()
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("tweets (-want +got):\n%s", diff)
	}
	if wantCalls := (len(want) + 3) / 4; calls != wantCalls {
		t.Errorf("calls = %d, want %d", calls, wantCalls)
	}
	if quota == nil || quota.Figures[0].Name != "requests_per_15m" || quota.Figures[0].Remaining != int64(450-calls) || quota.ResetAt.IsZero() {
		t.Errorf("quota = %+v, want requests_per_15m with %d remaining and a reset", quota, 450-calls)
	}
	if len(*slept) != 0 {
		t.Errorf("slept %v with the window far from spent", *slept)
	}
}

func TestXSearchPacing(t *testing.T) {
	for _, tc := range []struct {
		name      string
		window    int
		rate429   float64
		retry     time.Duration
		wantSleep bool
		wantRetry time.Duration // 0: the search completes
	}{
		{name: "window spent, reset near: waits", window: 2, retry: 0, wantSleep: true},
		{name: "429, reset near: waits", rate429: 0.5, retry: 5 * time.Second, wantSleep: true},
		{name: "429, reset far: RetryAfter at the reset", rate429: 1, retry: 10 * time.Minute, wantRetry: 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c, slept := newXSearch(t, sourcestest.With429Rate(tc.rate429, tc.retry))
			srv.SetPageLimit(4)
			if tc.window > 0 {
				// A window of 5 seconds: the client finds it spent and waits out the reset.
				srv.SetRateWindow(tc.window, 5*time.Second)
			}
			_, _, _, err := collect(t, c, xQuery)
			var se *sources.Error
			switch {
			case tc.wantRetry == 0 && err != nil && tc.window > 0:
				// The fake's clock does not move, so its window never resets: the client waits
				// xMaxWaits times and then hands the wait to the queue.
				if !errors.As(err, &se) || se.Kind != sources.Transient || se.RetryAfter <= 0 {
					t.Errorf("err = %v, want Transient with RetryAfter", err)
				}
			case tc.wantRetry == 0 && err != nil && tc.rate429 < 1:
				if !errors.As(err, &se) || se.Kind != sources.Transient || se.Status != http.StatusTooManyRequests {
					t.Errorf("err = %v, want a transient 429", err)
				}
			case tc.wantRetry > 0:
				if !errors.As(err, &se) || se.Kind != sources.Transient || se.RetryAfter != tc.wantRetry || se.Status != http.StatusTooManyRequests {
					t.Errorf("err = %v, want Transient 429 with RetryAfter %s", err, tc.wantRetry)
				}
				if len(*slept) != 0 {
					t.Errorf("slept %v for a reset %s away: the queue should wait, not the task", *slept, tc.wantRetry)
				}
			}
			if tc.wantSleep && (len(*slept) == 0 || slices.Max(*slept) > xsearch.XSearchMaxWait) {
				t.Errorf("slept %v, want waits of at most %s", *slept, xsearch.XSearchMaxWait)
			}
		})
	}
}

func TestXSearchErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token string
		q     xsearch.XSearchQuery
		want  sources.ErrorKind
	}{
		{"refused token blocks", "wrong", xQuery, sources.AuthRevoked},
		{"max_results past the bound fails", xsearchfake.XSearchToken, func() xsearch.XSearchQuery { q := xQuery; q.MaxResults = 101; return q }(), sources.Permanent},
		{"start older than 7 days fails", xsearchfake.XSearchToken, func() xsearch.XSearchQuery { q := xQuery; q.StartTime = "2026-11-01T00:00:00Z"; return q }(), sources.Permanent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := xsearchfake.NewXSearchServer(sampleStream(t), sourcestest.WithClock(func() time.Time { return clientNow }))
			defer srv.Close()
			c, _ := xsearch.NewXSearch(xsearch.XSearchConfig{BaseURL: srv.URL(), Token: tc.token, Now: func() time.Time { return clientNow }})
			_, err := c.Stream(context.Background(), tc.q, func(xsearch.XPage) error { return nil })
			if got := sources.KindOf(err); got != tc.want {
				t.Errorf("kind = %v (%v), want %v", got, err, tc.want)
			}
			if tc.token == "wrong" && err != nil && strings.Contains(err.Error(), xsearchfake.XSearchToken) {
				t.Errorf("error %q carries the token", err)
			}
		})
	}
}

// FuzzDecodeXSearchPage feeds search pages to the decoder: it never panics, and every message
// it returns is one event.ParseX classifies as a tweet with the page's id.
func FuzzDecodeXSearchPage(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":"1","text":"hi","author_id":"2","created_at":"2026-11-21T08:00:00.000Z"}],"includes":{"users":[{"id":"2","username":"u"}]},"meta":{"next_token":"t1","result_count":1}}`))
	f.Add([]byte(`{"meta":{"result_count":0}}`))
	f.Add([]byte(`{"data":[{"id":1}]}`))
	f.Add([]byte(`{"data":[{"id":"1","referenced_tweets":[{"type":"retweeted","id":"3"}]}],"includes":{"users":[{"id":5}]}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := xsearch.DecodeXSearchPage(raw)
		if err != nil {
			return
		}
		for _, m := range p.Messages {
			x, err := event.ParseX(m)
			if err != nil {
				// ParseX is stricter about a tweet's fields than the page decoder; it must
				// still never see a message without data.
				continue
			}
			if x.Tweet == nil || x.Tweet.ID == "" {
				t.Errorf("message %s parses as %+v, want a tweet with an id", m, x)
			}
		}
	})
}
