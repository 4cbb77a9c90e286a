package rankings

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestMarkersHoldOnlyQueriedFieldsBesideTheirBody covers the markers' shape: what no query
// reads is in body, so a tweet is six fields (eight for a retweet) and an app event two.
func TestMarkersHoldOnlyQueriedFieldsBesideTheirBody(t *testing.T) {
	s := newStore(t, Options{Layout: LayoutMarkers})
	applyAll(t, s, tweet("1", 0, "m1", "Go", "GCP"), retweet("2", "1", 0, "m2"), del("3", 0, "d3"),
		Entry{Key: "e:v1", PublishTime: t0, MessageID: "mv1", Counts: []Count{{Popularity, "item"}}})
	for _, tc := range []struct {
		coll, id string
		want     []string
	}{
		{s.o.Collections.Tweets, "1", []string{"body", "created_us", "deleted", "expires_at", "id_key", "terms"}},
		{s.o.Collections.Tweets, "2", []string{"body", "created_us", "deleted", "expires_at", "id_key", "kind", "referenced_tweet_id", "terms"}},
		{s.o.Collections.Tweets, "3", []string{"body", "deleted", "expires_at"}},
		{s.o.Collections.Events, hashKey("e:v1"), []string{"body", "expires_at"}},
	} {
		snap, err := s.c.Collection(tc.coll).Doc(tc.id).Get(context.Background())
		if err != nil {
			t.Fatalf("reading %s/%s: %v", tc.coll, tc.id, err)
		}
		if diff := cmp.Diff(tc.want, slices.Sorted(maps.Keys(snap.Data()))); diff != "" {
			t.Errorf("%s/%s fields (-want +got):\n%s", tc.coll, tc.id, diff)
		}
	}
}

// firstShape is a marker as the first version wrote it: a field for each part, content
// fields emptied for a deleted tweet.
func firstShape(e Entry, deleted bool) map[string]any {
	counted := e.Counts
	if deleted {
		counted = nil
	}
	d := map[string]any{"counted": counted, "publish_time": e.PublishTime, "message_id": e.MessageID, "deleted": deleted,
		"expires_at": t0.Add(8 * 24 * time.Hour)}
	if e.Key[:2] != "t:" {
		return d
	}
	if tw := e.Tweet; tw != nil && !deleted {
		hashtags := tw.Hashtags
		if hashtags == nil {
			hashtags = []string{}
		}
		maps.Copy(d, map[string]any{
			"has_content": true, "tweet_id": tw.ID, "id_key": IDKey(tw.ID), "kind": tw.Kind, "text": tw.Text,
			"author_id": tw.AuthorID, "author_handle": tw.AuthorHandle, "created_at": tw.CreatedAt, "created_us": tw.CreatedAt.UnixMicro(),
			"referenced_tweet_id": tw.ReferencedTweetID, "hashtags": hashtags, "terms": Terms(tw),
		})
	} else {
		maps.Copy(d, map[string]any{"has_content": false, "text": "", "terms": []string{}, "author_handle": "", "author_id": ""})
	}
	return d
}

// TestMarkersOfTheFirstShapeStillRead: documents written before body (a field each) still
// make redeliveries count once, move and take back their counts, and serve the latest tweets
// and the retweets' text; the first write over one leaves it in the new shape only.
func TestMarkersOfTheFirstShapeStillRead(t *testing.T) {
	s := newStore(t, Options{Shards: 2})
	t10, t11 := tweet("10", time.Minute, "m10", "old"), tweet("11", 2*time.Minute, "m11", "old")
	t20, r21, r31 := tweet("20", 0, "m20"), retweet("21", "20", time.Minute, "m21"), retweet("31", "30", time.Minute, "m31")
	ev := Entry{Key: "e:s1", PublishTime: t0, MessageID: "ms1", Counts: []Count{{SearchTerms, "old query"}}}
	es := []Entry{t10, t11, t20, r21, r31, ev}
	applyAll(t, s, es...)
	// Rewrite every marker as the first version would have (the counters are unchanged).
	for _, e := range es {
		if _, err := s.markerRef(e.Key).Set(context.Background(), firstShape(e, false)); err != nil {
			t.Fatalf("writing a first-shape marker for %s: %v", e.Key, err)
		}
	}

	// Redeliveries count nothing again.
	applyAll(t, s, t10, t11, r21, r31, ev)
	now := t0.Add(5 * time.Minute)
	if diff := cmp.Diff([]Item{{Key: "old", Count: 2}}, top(t, s, Hashtags, "15m", now)); diff != "" {
		t.Errorf("hashtags after redeliveries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Item{{Key: "old query", Count: 1}}, top(t, s, SearchTerms, "15m", now)); diff != "" {
		t.Errorf("search terms after a redelivery (-want +got):\n%s", diff)
	}
	// The originals' text: 20's own, 30's as quoted by its retweet.
	want := []Item{{Key: "20", Count: 1, Text: "text of 20", AuthorHandle: "a20"}, {Key: "30", Count: 1, Text: "original text 30", AuthorHandle: "orig"}}
	if diff := cmp.Diff(want, top(t, s, Retweets, "15m", now)); diff != "" {
		t.Errorf("retweets (-want +got):\n%s", diff)
	}
	latest, _, err := s.Latest(context.Background(), mustSearch(t, "#old"), nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	w11, w10 := *t11.Tweet, *t10.Tweet
	w11.Counts, w10.Counts = &TweetCounts{}, &TweetCounts{} // nothing references them
	if diff := cmp.Diff([]Tweet{w11, w10}, latest); diff != "" {
		t.Errorf("latest #old (-want +got):\n%s", diff)
	}

	// An earlier message of 11 moves its count out of the 15m window; deleting 10 takes its out.
	applyAll(t, s, tweet("11", -time.Hour, "m0", "old"), del("10", 3*time.Minute, "d10"))
	if got := top(t, s, Hashtags, "15m", now); len(got) != 0 {
		t.Errorf("hashtags 15m after the move and the delete = %v, want none", got)
	}
	if diff := cmp.Diff([]Item{{Key: "old", Count: 1}}, top(t, s, Hashtags, "1d", now)); diff != "" {
		t.Errorf("hashtags 1d (-want +got):\n%s", diff)
	}
	for id, want := range map[string][]string{
		"10": {"body", "deleted", "expires_at"},
		"11": {"body", "created_us", "deleted", "expires_at", "id_key", "terms"},
	} {
		if s.o.Layout == LayoutLog {
			break // the log layout writes no marker over them
		}
		snap, err := s.c.Collection(s.o.Collections.Tweets).Doc(id).Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, slices.Sorted(maps.Keys(snap.Data()))); diff != "" {
			t.Errorf("tweet %s fields after its update (-want +got):\n%s", id, diff)
		}
	}
	latest, _, err = s.Latest(context.Background(), mustSearch(t, "#old"), nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(latest) != 1 || latest[0].ID != "11" {
		t.Errorf("latest #old after deleting 10 = %v, want 11 alone", latest)
	}
}
