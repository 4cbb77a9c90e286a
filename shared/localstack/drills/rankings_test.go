package drills

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// withRankings turns the rankings on in a drill's stack.
func withRankings(o *localstack.Options) { o.Rankings = true }

// rankingUsers are the users of rankingAppEvents.
var rankingUsers = []string{"u1", "u2"}

// rankingAppEvents are app events as NDJSON: searches that normalise alike, views with and
// without a user, an item viewed again (it moves to the front), an empty search after
// normalisation is refused by CollectEvents so it is not here.
func rankingAppEvents(prefix string) []string {
	base := time.Now().UTC().Add(-time.Minute)
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	for i, q := range []string{"Go Tips", "  go   tips ", "GO TIPS", "cloud run", "Cloud\tRun", "bigquery"} {
		add(`{"id":"%s-s%d","kind":"search","query":%q}`, prefix, i, q)
	}
	for i := range 14 {
		add(`{"id":"%s-v%d","kind":"detail_view","user_id":"u%d","item_id":"film-%d","time":%q}`,
			prefix, i, 1+i%2, i%6, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano))
	}
	add(`{"id":"%s-anon","kind":"detail_view","item_id":"film-0"}`, prefix) // no user: popularity only
	add(`{"id":"%s-other","kind":"signup"}`, prefix)                        // no ranking counts it
	return lines
}

// checkRankingsTruth waits until every served ranking and the users' recent views equal their
// SQL truth, fails with the differences otherwise, and checks that the rankings are not empty
// (an empty ranking equals an empty truth and proves nothing).
func checkRankingsTruth(t *testing.T, s *localstack.Stack, users []string, nonEmpty ...rankings.Ranking) {
	t.Helper()
	checks, err := s.WaitRankings(context.Background(), users, drillTimeout())
	if err != nil {
		t.Fatal(err)
	}
	filled := map[string]bool{}
	unequal := false
	for _, c := range checks {
		if !c.Equal {
			unequal = true
			t.Errorf("%s %s: served %v, SQL over the dedup views %v", c.Ranking, c.Window, c.Served, c.Truth)
		}
		if len(c.Served) > 0 {
			filled[c.Ranking] = true
		}
	}
	for _, r := range nonEmpty {
		if !filled[string(r)] {
			t.Errorf("ranking %s is empty in every window: the check compared nothing", r)
		}
	}
	for _, u := range users {
		if !filled["recent_views"] {
			t.Errorf("no recent views for %v: the check compared nothing", u)
			break
		}
	}
	if unequal && s.Rankings != nil {
		// Tells a delivery still refused or in flight from one acked but not served.
		t.Logf("the rankings forwarder acked %d deliveries and nacked %d", s.Rankings.Forwarder.Acked(), s.Rankings.Forwarder.Nacked())
	}
	if unequal {
		return
	}
	t.Logf("%d rankings and recent views equal their SQL truth", len(checks))
}

// TestRankingsEqualSQLTruth feeds the project's captures (the sample stream, the v1.1 and v2
// fixtures), a later delete of one of its tweets, and app events through the local stack, and
// checks every ranking in every window and the users' recent views against SQL over the dedup
// views.
func TestRankingsEqualSQLTruth(t *testing.T) {
	s := startDrillStack(t, nil, withRankings)
	ctx := context.Background()
	captures := []string{filepath.Join("..", "testdata", "sample_stream.jsonl")}
	for _, f := range []string{"v1_crlf.txt", "v1_array.json", "v2_stream_crlf.txt", "v1_ndjson.jsonl"} {
		captures = append(captures, filepath.Join("..", "..", "xstream", "testdata", f))
	}
	if _, err := s.Replay(ctx, captures, drillTimeout()); err != nil {
		t.Fatal(err)
	}
	// The author deletes the first tweet of the sample stream (#golang #gcp) after it counted.
	del := writeCapture(t, []string{`{"delete":{"status":{"id":1860000000000000000,"id_str":"1860000000000000000","user_id":1003,"user_id_str":"1003"}}}`})
	if _, err := s.Replay(ctx, []string{del}, drillTimeout()); err != nil {
		t.Fatal(err)
	}
	// Tweets at and past the store's per-event bounds: the SQL truth must refuse exactly what
	// the counters refuse.
	if _, err := s.Replay(ctx, []string{writeCapture(t, boundTweets())}, drillTimeout()); err != nil {
		t.Fatal(err)
	}
	// The card counts: a reply and a quote of a sample tweet, each line twice and the capture
	// replayed twice (duplicate deliveries), the quote deleted twice after it counted, and a
	// reply whose delete comes before it.
	cards := writeCapture(t, cardTweets())
	for range 2 {
		if _, err := s.Replay(ctx, []string{cards}, drillTimeout()); err != nil {
			t.Fatal(err)
		}
	}
	delQuote := `{"delete":{"status":{"id":1860000000000900002,"id_str":"1860000000000900002","user_id":1009,"user_id_str":"1009"}}}`
	delEarly := `{"delete":{"status":{"id":1860000000000900003,"id_str":"1860000000000900003","user_id":1009,"user_id_str":"1009"}}}`
	if _, err := s.Replay(ctx, []string{writeCapture(t, []string{delQuote, delQuote, delEarly})}, drillTimeout()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replay(ctx, []string{writeCapture(t, []string{cardTweet("1860000000000900003", "replied_to", "late reply")})}, drillTimeout()); err != nil {
		t.Fatal(err)
	}
	postAppEvents(t, s, rankingAppEvents("truth"))
	checkRankingsTruth(t, s, rankingUsers, rankings.Hashtags, rankings.Retweets, rankings.SearchTerms, rankings.Popularity)
	checkSearchTruth(t, s)
}

// cardTweet is a v2 tweet referencing the sample stream's 1860000000000047514 ("Backfilling
// two years of analytics #bigquery #gcp"), which the #gcp search serves.
func cardTweet(id, ref, text string) string {
	return fmt.Sprintf(`{"data":{"id":%q,"text":%q,"author_id":"1009","created_at":"2026-11-21T10:00:00.000Z","lang":"en","referenced_tweets":[{"type":%q,"id":"1860000000000047514"}]},"includes":{"users":[{"id":"1009","username":"card_counter"}]}}`, id, text, ref)
}

// cardTweets are a reply and a quote of that tweet, each line twice.
func cardTweets() []string {
	r, q := cardTweet("1860000000000900001", "replied_to", "a reply"), cardTweet("1860000000000900002", "quoted", "a quote")
	return []string{r, r, q, q}
}

// searchQueries are the terms people type, each found in the sample stream: punctuation, a
// phrase, a #tag, an @handle, Korean and Japanese (shared/rankings/search.go).
var searchQueries = []string{"Pub/Sub", "node.js", "c++", "at-least-once", "least", `"new pipeline"`, "pipeline today",
	"#gcp", "@gopher_jo", "클라우드", "東京", "データ"}

// checkSearchTruth waits until ServeRankings' /tweets for each of searchQueries (every page)
// equals the search rule's SQL over tweets_current, and fails naming the differences; an empty
// truth proves nothing and fails too.
func checkSearchTruth(t *testing.T, s *localstack.Stack) {
	t.Helper()
	checks, err := s.WaitSearch(context.Background(), searchQueries, drillTimeout())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		switch {
		case !c.Equal:
			t.Errorf("search %s: served %v, SQL over tweets_current %v; counts served %v, by SQL %v", c.Query, c.Served, c.Truth, c.ServedCounts, c.TruthCounts)
		case len(c.Truth) == 0:
			t.Errorf("search %s: no tweet matches in SQL; the check compared nothing", c.Query)
		}
	}
	// The card counts compared something: the tweet the drill replies to and quotes.
	for _, c := range checks {
		if n, ok := c.TruthCounts["1860000000000047514"]; ok && c.Query == "#gcp" {
			if n.Replies < 2 {
				t.Errorf("#gcp: 1860000000000047514's counts by SQL %+v, want at least the drill's two replies", n)
			}
		}
	}
	t.Logf("%d searches equal their SQL truth, counts included", len(checks))
}

// boundTweets are tweets at and one past the rankings' per-event bounds: a hashtag of exactly
// 64 KiB (counted) and one byte longer (the tweet counts nowhere), 1,000 distinct hashtags
// (counted) and 1,001 (counts nowhere), each with a hashtag of its own that sorts first among
// the keys counted once, so the top 100 shows it.
func boundTweets() []string {
	tweet := func(id string, tags []string) string {
		entities := make([]string, len(tags))
		for i, tag := range tags {
			entities[i] = fmt.Sprintf(`{"start":0,"end":1,"tag":%q}`, tag)
		}
		return fmt.Sprintf(`{"data":{"id":%q,"text":"bounds","author_id":"1009","created_at":"2026-11-21T09:00:00.000Z","entities":{"hashtags":[%s]}},"includes":{"users":[{"id":"1009","username":"bounds"}]}}`,
			id, strings.Join(entities, ","))
	}
	many := func(n int, own string) []string {
		tags := []string{own}
		for i := range n - 1 {
			tags = append(tags, fmt.Sprintf("many%04d", i))
		}
		return tags
	}
	const keyBound = 64 << 10 // rankings' maxKeyBytes
	return []string{
		tweet("1869000000000000001", []string{strings.Repeat("k", keyBound), "aaatkeybound"}),
		tweet("1869000000000000002", []string{strings.Repeat("k", keyBound+1), "aaoverkeybound"}),
		tweet("1869000000000000003", many(1000, "aaatcountbound")),
		tweet("1869000000000000004", many(1001, "aaovercountbound")),
	}
}

// postAppEvents posts events to CollectEvents and waits until they are all in app_events.
func postAppEvents(t *testing.T, s *localstack.Stack, lines []string) {
	t.Helper()
	res, err := http.Post(s.Functions.URL+"/CollectEvents", "application/x-ndjson", bytes.NewReader([]byte(strings.Join(lines, "\n"))))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("POST /CollectEvents = %d", res.StatusCode)
	}
	deadline := time.Now().Add(drillTimeout())
	for {
		rows, err := s.BigQuery.Query(context.Background(), fmt.Sprintf("SELECT COUNT(*) AS n FROM `%s.%s.app_events_dedup`", s.Project, s.Dataset))
		if err != nil {
			t.Fatal(err)
		}
		if n := rows[0]["n"].(int64); n >= int64(len(lines)) {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%d of %d app events loaded after %s", n, len(lines), drillTimeout())
		}
		<-time.After(100 * time.Millisecond)
	}
}

// deliverRankingsTwice delivers each message to UpdateRankings twice at once, as a redelivering
// subscription may.
func deliverRankingsTwice(t *testing.T, s *localstack.Stack, msgs []localstack.PushMessage) {
	t.Helper()
	// A bound on the deliveries, so that a delivery UpdateRankings never answers fails the
	// drill naming the message, not go test's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range msgs {
		for range 2 {
			wg.Go(func() {
				if code, err := s.DeliverRankingMessage(ctx, m); err != nil || code/100 != 2 {
					t.Errorf("delivering message %s to UpdateRankings: status %d, error %v; want 2xx", m.MessageID, code, err)
				}
			})
		}
	}
	wg.Wait()
}

// appMessages are app events as the events topic carries them (CollectEvents' attributes).
func appMessages(t *testing.T, lines []string, idPrefix string) []localstack.PushMessage {
	t.Helper()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var out []localstack.PushMessage
	for i, l := range lines {
		e, err := event.ParseAppEvent([]byte(l), time.Now())
		if err != nil {
			t.Fatalf("ParseAppEvent(%s): %v", l, err)
		}
		out = append(out, localstack.PushMessage{Data: []byte(l), Attributes: event.Attributes(e.ContractKind(), event.SourceApp, "", e.ID),
			MessageID: fmt.Sprintf("%s-%04d", idPrefix, i), PublishTime: now})
	}
	return out
}
