package drills

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/rankings"

	"cloud.google.com/go/bigquery"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch/xsearchfake"
)

// TestDrillXSearch is x_search's done-when: a backfill of the last 7 days of the fake X API
// (the stream's 33 sample tweets, pages of 10), with 30% of its requests answered 429 whose
// window resets a second later, ends done, with every tweet once in backfill_rows_dedup and
// once in tweets_dedup: the tweets went through the events topic and the loader as the
// stream's do. It then runs the same search again (new_run): every tweet is published twice,
// as a tweet seen by both the stream and the search is, and tweets_dedup still has it once.
func TestDrillXSearch(t *testing.T) {
	s := startDrillStack(t, &localstack.BackfillOptions{Queue: drillQueue(8),
		Fakes: map[string][]sourcestest.Option{"x_search": {sourcestest.With429Rate(0.3, time.Second)}}}, withRankings)
	ids := s.Backfill.Fake("x_search").(*xsearchfake.XSearchServer).IDs()
	if len(ids) != localstack.SourceKits["x_search"].Rows {
		t.Fatalf("the fake serves %d tweets, the kit expects %d", len(ids), localstack.SourceKits["x_search"].Rows)
	}
	spec := xsearchfake.Spec(time.Now(), 10)
	for run := range 2 {
		body := spec
		if run == 1 {
			var err error
			if body, err = localstack.NewRun(spec); err != nil {
				t.Fatal(err)
			}
		}
		c, err := s.StartBackfill(context.Background(), body)
		if err != nil {
			t.Fatalf("StartBackfill: %v", err)
		}
		st := waitBackfill(t, s, c.JobID)
		if st.State != backfill.JobDone {
			t.Fatalf("run %d: job ended %s (%+v), want %s", run, st.State, st.Failures, backfill.JobDone)
		}
		checkInvariants(t, s, c.JobID, len(ids), nil)
		if st.Quota == nil || len(st.Quota.Quota.Figures) == 0 || st.Quota.Quota.Figures[0].Name != "requests_per_15m" || st.Quota.Quota.ResetAt.IsZero() {
			t.Errorf("run %d: job status quota = %+v, want X's requests_per_15m and its reset", run, st.Quota)
		}
		rows, distinct := waitTweets(t, s, ids)
		if rows != len(ids) || distinct != len(ids) {
			t.Errorf("run %d: tweets_dedup has %d rows (%d distinct) of the %d searched tweets, want each once", run, rows, distinct, len(ids))
		}
	}
	// The rankings count the searched tweets at their created_at (the last week, not now), as
	// the SQL truth does (rankings.TruthSQL): every ranking and window equals it, and some
	// tweet ranking holds them, so the comparison is not of two empty lists.
	checks, err := s.WaitRankings(context.Background(), nil, drillTimeout())
	if err != nil {
		t.Fatalf("WaitRankings: %v", err)
	}
	held := false
	for _, c := range checks {
		if !c.Equal {
			t.Errorf("%s %s: served %v, SQL truth %v", c.Ranking, c.Window, c.Served, c.Truth)
		}
		held = held || ((c.Ranking == string(rankings.Hashtags) || c.Ranking == string(rankings.Retweets)) && len(c.Truth) > 0)
	}
	if !held {
		t.Errorf("no tweet ranking holds the searched tweets in any window: %+v", checks)
	}
	calls, byStatus := s.Backfill.Fake("x_search").(*xsearchfake.XSearchServer).Calls()
	if byStatus[http.StatusTooManyRequests] == 0 {
		t.Errorf("the fake X API answered %v: want some 429s", byStatus)
	}
	t.Logf("X search: %d calls %v", calls, byStatus)
}

// waitTweets polls tweets_dedup until it has every id (or the drill's timeout) and returns its
// rows and distinct ids among them.
func waitTweets(t *testing.T, s *localstack.Stack, ids []string) (rows, distinct int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(drillTimeout())
	for {
		q := s.BQ.Query("SELECT COUNT(*) AS n, COUNT(DISTINCT tweet_id) AS d FROM `" + s.Project + "." + s.Dataset + ".tweets_dedup` WHERE tweet_id IN UNNEST(@ids)")
		q.Parameters = []bigquery.QueryParameter{{Name: "ids", Value: ids}}
		it, err := q.Read(ctx)
		if err != nil {
			t.Fatalf("querying tweets_dedup: %v", err)
		}
		var r struct{ N, D int64 }
		if err := it.Next(&r); err != nil {
			t.Fatalf("reading tweets_dedup: %v", err)
		}
		if int(r.D) >= len(ids) || time.Now().After(deadline) {
			return int(r.N), int(r.D)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
