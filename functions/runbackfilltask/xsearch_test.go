package runbackfilltask

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch/xsearchfake"
)

// recordingPublisher keeps what it is asked to publish.
type recordingPublisher struct {
	mu   sync.Mutex
	msgs []publish.Message
}

func (p *recordingPublisher) PublishAll(_ context.Context, msgs []publish.Message) []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msgs...)
	return make([]error, len(msgs))
}

// sampleMessages are 30 stream messages, one every 10 minutes from 08:00 on 2026-11-21 (the
// span xSearchJob searches), each a #gcp tweet of one of three authors: what the fake search
// serves. The test's own data, so the package tests alone.
func sampleMessages(t *testing.T) [][]byte {
	t.Helper()
	start := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	var out [][]byte
	for i := range 30 {
		author := 1001 + i%3
		out = append(out, []byte(fmt.Sprintf(`{"data":{"id":"%d","text":"Tweet %d #gcp","author_id":"%d","created_at":%q,"lang":"en",`+
			`"entities":{"hashtags":[{"start":9,"end":13,"tag":"gcp"}]}},"includes":{"users":[{"id":"%d","username":"user%d"}]}}`,
			1860000000000000000+int64(i)*7919, i, author, start.Add(time.Duration(i)*10*time.Minute).Format("2006-01-02T15:04:05.000Z"), author, author)))
	}
	return out
}

func xSearchEnv(t *testing.T, srv *xsearchfake.XSearchServer, pub backfill.EventPublisher) *env {
	return newEnv(t, withFetcher("x_search", func(logger *slog.Logger) backfill.Fetcher {
		s := backfill.Settings{xsearch.EnvBearerToken: {Secret: backfill.Credential{Value: xsearchfake.XSearchToken}},
			xsearch.EnvAPIBaseURL: {Text: srv.URL()}}
		return xsearch.NewLazy(backfill.Deps{Settings: s, Events: pub, Logger: logger, Now: func() time.Time { return fetchedAt },
			Sleep: func(context.Context, time.Duration) error { return nil }}, xsearch.XSearchConfig{})
	}))
}

const xSearchJob = `{"source":"x_search","x_search":{"query":"#gcp","start":"2026-11-21T08:00:00Z","end":"2026-11-21T13:00:00Z","slice_minutes":60,"max_results":10}}`

// TestXSearchPublishesEveryTweetOnce runs every task of a search over the sample data: each
// tweet is published once to the events topic as the stream publishes it (kind tweet..., source
// x_search, the tweet id), kept in backfill_rows, and the API's quota is recorded.
func TestXSearchPublishesEveryTweetOnce(t *testing.T) {
	srv := xsearchfake.NewXSearchServer(sampleMessages(t), sourcestest.WithClock(func() time.Time { return fetchedAt }))
	defer srv.Close()
	srv.SetPageLimit(3)
	pub := &recordingPublisher{}
	e := xSearchEnv(t, srv, pub)
	p := e.newJob(t, xSearchJob)
	for i := range p.Tasks {
		if res := e.deliver(t, p.Task(i), attemptOf{}); res.status != http.StatusOK || res.answer.Outcome != backfill.ShardSucceeded {
			t.Fatalf("task %d: %d %+v", i, res.status, res.answer)
		}
	}
	var got []string
	for _, m := range pub.msgs {
		if m.Attributes[event.AttrSource] != event.SourceXSearch || !event.Kind(m.Attributes[event.AttrKind]).Valid() {
			t.Errorf("attributes %v, want a tweet kind and source x_search", m.Attributes)
		}
		got = append(got, m.Attributes[event.AttrEventID])
	}
	want := srv.IDs()
	if len(want) != 30 {
		t.Fatalf("the fake serves %d tweets, want the 30 of sampleMessages", len(want))
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("published tweet ids (-want +got):\n%s", diff)
	}
	if rows := e.rows(t, backfill.TableRows); len(rows) != len(want) {
		t.Errorf("backfill_rows has %d tweets, want %d", len(rows), len(want))
	}
	st, err := e.store.Status(context.Background(), p.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != backfill.JobDone {
		t.Errorf("job state = %s, want done", st.State)
	}
}

// TestXSearchRateLimitRetriesAtTheReset: a 429 whose window resets in 10 minutes is not waited
// out in the task: the worker answers 429 with Retry-After at the reset, so the queue retries
// then.
func TestXSearchRateLimitRetriesAtTheReset(t *testing.T) {
	srv := xsearchfake.NewXSearchServer(sampleMessages(t), sourcestest.WithClock(func() time.Time { return fetchedAt }),
		sourcestest.With429Rate(1, 10*time.Minute))
	defer srv.Close()
	pub := &recordingPublisher{}
	e := xSearchEnv(t, srv, pub)
	p := e.newJob(t, xSearchJob)
	res := e.deliver(t, p.Task(0), attemptOf{})
	if res.status != http.StatusTooManyRequests || res.retryAfter != "600" {
		t.Errorf("answer = %d Retry-After %q (%+v), want 429 Retry-After 600", res.status, res.retryAfter, res.answer)
	}
	if len(pub.msgs) != 0 {
		t.Errorf("published %d messages before any page", len(pub.msgs))
	}
}
