package serverankings

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// TestTweetsCarryTheirCardCounts checks that /tweets sends each tweet's counts (the deck's
// cards show them): a retweet, a reply and a quote of tweet 1 (the retweet delivered twice),
// a reply to tweet 22 then deleted, and zeros where nothing referenced a tweet.
func TestTweetsCarryTheirCardCounts(t *testing.T) {
	srv, store := serve(t)
	ref := func(id, kind, of string) rankings.Entry {
		e := rankings.Entry{Key: "t:" + id, PublishTime: now.Add(-30 * time.Second), MessageID: "m" + id,
			Tweet: &rankings.Tweet{ID: id, Kind: kind, Text: "about " + of, CreatedAt: now.Add(-30 * time.Second), ReferencedTweetID: of}}
		if kind == "retweet" {
			e.Counts = []rankings.Count{{Ranking: rankings.Retweets, Key: of}}
		}
		return e
	}
	for _, e := range []rankings.Entry{ref("901", "retweet", "1"), ref("901", "retweet", "1"), ref("902", "reply", "1"),
		ref("903", "quote", "1"), ref("904", "reply", "22"),
		{Key: "t:904", PublishTime: now, MessageID: "d904", Delete: true}} {
		if err := store.Apply(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	_, body := get(t, srv.URL+"/tweets?q="+url.QueryEscape("#gcp"), nil)
	var page struct {
		Tweets []struct {
			ID     string           `json:"tweet_id"`
			Counts map[string]int64 `json:"counts"`
		} `json:"tweets"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("GET /tweets = %s: %v", body, err)
	}
	got := map[string]map[string]int64{}
	for _, tw := range page.Tweets {
		got[tw.ID] = tw.Counts
	}
	want := map[string]map[string]int64{
		"1":  {"retweets": 1, "replies": 1, "quotes": 1},
		"22": {"retweets": 0, "replies": 0, "quotes": 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("/tweets counts (-want +got):\n%s", diff)
	}
}
