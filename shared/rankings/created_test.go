package rankings

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// tweetEntry is the Entry of a loaded tweet row, as UpdateRankings builds it.
func tweetEntry(t *testing.T, source, id string, created, published time.Time, msg string, tags ...string) Entry {
	t.Helper()
	e, ok := EntryOf(event.Record{Kind: event.KindTweet, Row: &event.TweetRow{TweetID: id, Kind: string(event.KindTweet),
		EventTime: created, Ingestion: event.Ingestion{PublishTime: published, MessageID: msg, Source: source}, Hashtags: tags}})
	if !ok {
		t.Fatalf("EntryOf(tweet %s) is not ok", id)
	}
	return e
}

// TestBackfilledTweetsCountWhenCreated: an x_search tweet counts in the windowed rankings at
// its created_at, not when it was published, so a backfill of last week's tweets (published
// now) counts last week and is no burst now; its delete takes it away from there. One claiming
// a created_at after its publication counts when published. A replayed capture's tweets (and
// the stream's) still count when published.
func TestBackfilledTweetsCountWhenCreated(t *testing.T) {
	s := newStore(t, Options{})
	week := t0.Add(-5 * 24 * time.Hour)
	applyAll(t, s,
		tweetEntry(t, event.SourceXSearch, "10", week, t0, "b1", "backfilled"),
		tweetEntry(t, event.SourceXSearch, "11", week.Add(time.Minute), t0, "b2", "backfilled"),
		tweetEntry(t, event.SourceXSearch, "13", t0.Add(time.Hour), t0, "f1", "future"), // a created_at after publication
		tweetEntry(t, event.SourceReplay, "14", week, t0, "r1", "replayed"),
		tweetEntry(t, event.SourceXStream, "12", t0.Add(-time.Minute), t0, "s1", "live"),
	)
	if diff := cmp.Diff([]Item{{Key: "future", Count: 1}, {Key: "live", Count: 1}, {Key: "replayed", Count: 1}}, top(t, s, Hashtags, "15m", t0.Add(time.Minute))); diff != "" {
		t.Errorf("15m now (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Item{{Key: "backfilled", Count: 2}}, top(t, s, Hashtags, "15m", week.Add(5*time.Minute))); diff != "" {
		t.Errorf("15m when the backfilled tweets were created (-want +got):\n%s", diff)
	}
	applyAll(t, s, del("10", time.Minute, "d10"))
	if diff := cmp.Diff([]Item{{Key: "backfilled", Count: 1}}, top(t, s, Hashtags, "15m", week.Add(5*time.Minute))); diff != "" {
		t.Errorf("15m when created, after a delete (-want +got):\n%s", diff)
	}
}
