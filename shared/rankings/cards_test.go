package rankings

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func reference(kind, id, of string, at time.Duration, msg string) Entry {
	if kind == "retweet" {
		return retweet(id, of, at, msg)
	}
	e := tweet(id, at, msg)
	e.Tweet.Kind, e.Tweet.ReferencedTweetID = kind, of
	return e
}

// cardsOf reads the card counts of #gcp's latest tweets, by id.
func cardsOf(t *testing.T, s *Store) map[string]TweetCounts {
	t.Helper()
	page, _, err := s.Latest(context.Background(), mustSearch(t, "#gcp"), nil, MaxN)
	if err != nil {
		t.Fatalf("Latest = %v", err)
	}
	out := map[string]TweetCounts{}
	for _, tw := range page {
		if tw.Counts == nil {
			t.Fatalf("tweet %s has no counts", tw.ID)
		}
		out[tw.ID] = *tw.Counts
	}
	return out
}

// TestCardCountsOnceEachAndDeletesHonoured covers the card counts: each retweet, reply and
// quote once whatever the deliveries (the same message twice, a replay published later, the
// same event in one commit and in separate ones), a delete of one (twice) taking it off once,
// a delete that comes before its tweet keeping it off, and a tweet nobody referenced at zero.
func TestCardCountsOnceEachAndDeletesHonoured(t *testing.T) {
	for _, blind := range []bool{true, false} {
		t.Run(fmt.Sprint("blind=", blind), func(t *testing.T) {
			s := newStore(t, Options{Shards: 3})
			if !blind {
				s.readFirst.Store(1 << 20)
			}
			applyAll(t, s, tweet("10", 0, "o10", "gcp"), tweet("20", 0, "o20", "gcp"), tweet("30", 0, "o30", "gcp"))
			applyAll(t, s,
				reference("retweet", "101", "10", time.Second, "r1"),
				reference("retweet", "101", "10", time.Second, "r1"), // the same message twice in a commit
				reference("retweet", "102", "10", time.Second, "r2"),
				reference("reply", "103", "10", time.Second, "r3"),
				reference("quote", "104", "10", time.Second, "r4"),
				reference("quote", "105", "20", time.Second, "r5"),
				reference("retweet", "106", "20", time.Second, "r6"),
			)
			applyAll(t, s, reference("retweet", "102", "10", time.Hour, "r2-replay")) // a replay, later
			applyAll(t, s, reference("reply", "103", "10", time.Second, "r3"))        // redelivered alone
			applyAll(t, s, del("106", time.Minute, "d6"), del("106", time.Minute, "d6"))
			applyAll(t, s, del("107", time.Minute, "d7")) // before its retweet arrives
			applyAll(t, s, reference("retweet", "107", "20", 2*time.Minute, "r7"))
			want := map[string]TweetCounts{
				"10": {Retweets: 2, Replies: 1, Quotes: 1},
				"20": {Quotes: 1},
				"30": {},
			}
			if diff := cmp.Diff(want, cardsOf(t, s)); diff != "" {
				t.Errorf("card counts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCardCountsEarlierMessageReplacesItsReference covers a tweet whose earlier-published
// message arrives second with another reference: the dedup views keep the earliest, and so do
// the counts.
func TestCardCountsEarlierMessageReplacesItsReference(t *testing.T) {
	s := newStore(t, Options{})
	applyAll(t, s, tweet("10", 0, "o10", "gcp"), tweet("20", 0, "o20", "gcp"))
	applyAll(t, s, reference("reply", "101", "20", time.Hour, "late"))
	applyAll(t, s, reference("quote", "101", "10", time.Second, "early"))
	want := map[string]TweetCounts{"10": {Quotes: 1}, "20": {}}
	if diff := cmp.Diff(want, cardsOf(t, s)); diff != "" {
		t.Errorf("card counts (-want +got):\n%s", diff)
	}
}

// TestCardRefBound checks the referenced id's bound: at maxKeyBytes a tweet counts on the
// referenced card, one past it on none (as CardCountsSQL's countable clause).
func TestCardRefBound(t *testing.T) {
	for _, n := range []int{maxKeyBytes, maxKeyBytes + 1} {
		id := fmt.Sprintf("%0*d", n, 7) // n digits
		_, _, ok := cardRef(&Tweet{Kind: "reply", ReferencedTweetID: id})
		if want := n <= maxKeyBytes; ok != want {
			t.Errorf("cardRef(reply to a %d-byte id) ok = %v, want %v", n, ok, want)
		}
	}
}
