package rankings

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

// TestMain runs the package's tests in the default layout, then again in the markers layout
// (which deployments before the log layout have, and which it reads during the switch): the
// test binary runs itself once more with RANKINGS_TEST_LAYOUT=markers.
func TestMain(m *testing.M) {
	code := gcloudemu.Main(m, gcloudemu.Firestore)
	if code != 0 || os.Getenv("RANKINGS_TEST_LAYOUT") != "" || testing.Short() || flagSet("test.bench") || flagSet("test.fuzz") {
		os.Exit(code)
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), "RANKINGS_TEST_LAYOUT=markers")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "the tests in the markers layout: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func newStoreB(b *testing.B) *Store {
	c, err := firestore.NewClient(context.Background(), gcloudemu.NewProjectID(b))
	if err != nil {
		b.Fatalf("firestore.NewClient = %v", err)
	}
	s := NewStore(c, Options{})
	b.Cleanup(func() { s.Close(); c.Close() })
	return s
}

func flagSet(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() != ""
}

// testLayout is the layout the package's tests run (RANKINGS_TEST_LAYOUT, else the default).
func testLayout(o Options) Options {
	if o.Layout == "" {
		o.Layout = Layout(os.Getenv("RANKINGS_TEST_LAYOUT"))
	}
	if o.Layout == LayoutLog && o.Linger == 0 {
		o.Linger = 5 * time.Millisecond
	}
	return o
}

func newStore(t *testing.T, o Options) *Store {
	t.Helper()
	o = testLayout(o)
	c, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatalf("firestore.NewClient = %v", err)
	}
	s := NewStore(c, o)
	t.Cleanup(func() { s.Close(); c.Close() })
	t.Cleanup(func() { checkStored(t, c, s.o.Collections.Counts) }) // before the close
	return s
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func tweet(id string, at time.Duration, msg string, tags ...string) Entry {
	e := Entry{Key: "t:" + id, PublishTime: t0.Add(at), MessageID: msg,
		Tweet: &Tweet{ID: id, Kind: "tweet", Text: "text of " + id, AuthorHandle: "a" + id, CreatedAt: t0.Add(at), Hashtags: tags}}
	seen := map[string]bool{}
	for _, h := range tags {
		if f := FoldTag(h); !seen[f] {
			seen[f] = true
			e.Counts = append(e.Counts, Count{Hashtags, f})
		}
	}
	return e
}

func retweet(id, of string, at time.Duration, msg string) Entry {
	e := tweet(id, at, msg)
	e.Tweet.Kind, e.Tweet.ReferencedTweetID, e.Tweet.Text = "retweet", of, "RT @orig: original text "+of
	e.Counts = append(e.Counts, Count{Retweets, of})
	return e
}

func del(id string, at time.Duration, msg string) Entry {
	return Entry{Key: "t:" + id, PublishTime: t0.Add(at), MessageID: msg, Delete: true}
}

// applyAll applies entries concurrently (so they share commits) and fails on any error.
func applyAll(t *testing.T, s *Store, es ...Entry) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(es))
	for i, e := range es {
		wg.Go(func() { errs[i] = s.Apply(context.Background(), e) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Apply(%s) = %v", es[i].Key, err)
		}
	}
}

func top(t *testing.T, s *Store, r Ranking, w string, now time.Time) []Item {
	t.Helper()
	win, _ := WindowNamed(w)
	items, err := s.Top(context.Background(), r, win, now)
	if err != nil {
		t.Fatalf("Top(%s, %s) = %v", r, w, err)
	}
	return items
}

func TestHashtagsCountDistinctTweetsOnceAndLeaveOnDelete(t *testing.T) {
	s := newStore(t, Options{Shards: 3})
	applyAll(t, s,
		tweet("1", 0, "m1", "Go", "go", "GCP"),
		tweet("1", 0, "m1", "Go", "go", "GCP"), // the same message twice
		tweet("2", time.Minute, "m2", "gcp"),
		tweet("3", 2*time.Minute, "m3", "gcp"),
		tweet("4", 3*time.Minute, "m4"), // no hashtags: counts nowhere
	)
	applyAll(t, s, tweet("2", 30*time.Minute, "m9", "gcp")) // tweet 2 again, later, from a replay
	now := t0.Add(4 * time.Minute)
	want := []Item{{Key: "gcp", Count: 3}, {Key: "go", Count: 1}}
	if diff := cmp.Diff(want, top(t, s, Hashtags, "15m", now)); diff != "" {
		t.Errorf("hashtags 15m (-want +got):\n%s", diff)
	}
	// The delete of tweet 3, twice, and a delete for tweet 5 before tweet 5 arrives.
	applyAll(t, s, del("3", 5*time.Minute, "d3"), del("3", 5*time.Minute, "d3"), del("5", 5*time.Minute, "d5"))
	applyAll(t, s, tweet("5", 6*time.Minute, "m5", "gcp"))
	want = []Item{{Key: "gcp", Count: 2}, {Key: "go", Count: 1}}
	if diff := cmp.Diff(want, top(t, s, Hashtags, "1h", now)); diff != "" {
		t.Errorf("hashtags 1h after deletes (-want +got):\n%s", diff)
	}
	// 40 minutes on, the 15m window holds nothing of this.
	if got := top(t, s, Hashtags, "15m", t0.Add(40*time.Minute)); len(got) != 0 {
		t.Errorf("hashtags 15m at +40m = %v, want none", got)
	}
}

func TestEarliestPublishedMessageCounts(t *testing.T) {
	s := newStore(t, Options{})
	// The later message arrives first: the count moves to the earlier one's bucket.
	applyAll(t, s, tweet("7", 20*time.Minute, "mB", "late"))
	applyAll(t, s, tweet("7", 0, "mA", "late"))
	if got := top(t, s, Hashtags, "15m", t0.Add(10*time.Minute)); !cmp.Equal(got, []Item{{Key: "late", Count: 1}}) {
		t.Errorf("15m at +10m = %v, want late once (the earlier message's time)", got)
	}
	if got := top(t, s, Hashtags, "15m", t0.Add(25*time.Minute)); len(got) != 0 {
		t.Errorf("15m at +25m = %v, want none", got)
	}
}

func TestRetweetsRankOriginalsWithTheirText(t *testing.T) {
	s := newStore(t, Options{})
	applyAll(t, s,
		tweet("100", 0, "o1"), // the original of 100 is seen
		retweet("201", "100", time.Minute, "r1"), retweet("202", "100", time.Minute, "r2"), retweet("202", "100", time.Minute, "r2"),
		retweet("301", "300", time.Minute, "r3"), // 300 itself is never seen
		retweet("401", "400", time.Minute, "r4"), retweet("402", "400", time.Minute, "r5"), retweet("403", "400", time.Minute, "r6"),
		del("400", 2*time.Minute, "d4"), // the original 400 is deleted
	)
	want := []Item{
		{Key: "100", Count: 2, Text: "text of 100", AuthorHandle: "a100"},
		{Key: "300", Count: 1, Text: "original text 300", AuthorHandle: "orig"},
	}
	if diff := cmp.Diff(want, top(t, s, Retweets, "1d", t0.Add(time.Hour))); diff != "" {
		t.Errorf("retweets (-want +got):\n%s", diff)
	}
}

func TestAppRankingsAndRecentViews(t *testing.T) {
	s := newStore(t, Options{})
	var es []Entry
	view := func(id, user, item string, at time.Duration) Entry {
		return Entry{Key: "e:" + id, PublishTime: t0.Add(at), MessageID: "m" + id,
			Counts: []Count{{Popularity, item}}, View: &ViewEvent{UserID: user, ItemID: item, Time: t0.Add(at)}}
	}
	for i := range 12 {
		es = append(es, view(fmt.Sprint("v", i), "u1", fmt.Sprint("item", i), time.Duration(i)*time.Second))
	}
	es = append(es, view("v-again", "u1", "item0", time.Minute), view("v-again", "u1", "item0", time.Minute)) // item0 again, delivered twice
	es = append(es, Entry{Key: "e:s1", PublishTime: t0, MessageID: "ms1", Counts: []Count{{SearchTerms, NormaliseQuery("  Go  Tips ")}}},
		Entry{Key: "e:s2", PublishTime: t0, MessageID: "ms2", Counts: []Count{{SearchTerms, NormaliseQuery("go tips")}}})
	applyAll(t, s, es...)
	now := t0.Add(2 * time.Minute)
	if got := top(t, s, Popularity, "15m", now); len(got) != 12 || got[0] != (Item{Key: "item0", Count: 2}) {
		t.Errorf("popularity = %v, want 12 items, item0 first with 2", got)
	}
	if diff := cmp.Diff([]Item{{Key: "go tips", Count: 2}}, top(t, s, SearchTerms, "15m", now)); diff != "" {
		t.Errorf("search_terms (-want +got):\n%s", diff)
	}
	views, err := s.RecentViews(context.Background(), "u1")
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	for _, v := range views {
		items = append(items, v.ItemID)
	}
	want := []string{"item0", "item11", "item10", "item9", "item8", "item7", "item6", "item5", "item4", "item3"}
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("recent views (-want +got):\n%s", diff)
	}
}

func TestLatestPagesWithACursor(t *testing.T) {
	s := newStore(t, Options{})
	var es []Entry
	for i := range 7 {
		es = append(es, tweet(fmt.Sprint(1000+i), time.Duration(i)*time.Second, fmt.Sprint("m", i), "GCP"))
	}
	applyAll(t, s, es...)
	applyAll(t, s, del("1005", time.Minute, "d"))
	var got []string
	var cur *Cursor
	for page := 0; page < 5; page++ {
		tweets, next, err := s.Latest(context.Background(), mustSearch(t, "#gcp"), cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, tw := range tweets {
			got = append(got, tw.ID)
		}
		if next == "" {
			break
		}
		if cur, err = ParseCursor(next); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"1006", "1004", "1003", "1002", "1001", "1000"}, got); diff != "" {
		t.Errorf("latest #gcp pages (-want +got):\n%s", diff)
	}
}

// TestAnyKeyIsCountedUnderItsOwnName covers the counter field names: short keys are their own
// field (whatever characters they hold), long ones a digest with a label, and documents written
// before (one per bucket shard, every field hashed and labelled) still read, as does a digest
// labelled in another document of the window.
func TestAnyKeyIsCountedUnderItsOwnName(t *testing.T) {
	s := newStore(t, Options{Shards: 2})
	long := strings.Repeat("very long query ", 10)
	keys := []string{"a.b", "`tick`", "__name__", "with space", "ünï", "=eq", long[:maxKeyField], long}
	var es []Entry
	for i, k := range keys {
		for j := 0; j <= i; j++ {
			es = append(es, Entry{Key: fmt.Sprint("e:", i, ".", j), PublishTime: t0, MessageID: fmt.Sprint(i, ".", j), Counts: []Count{{SearchTerms, k}}})
		}
	}
	applyAll(t, s, es...)
	// A document in the earlier form: hashed names, labels in k.
	old := s.c.Collection(s.o.Collections.Counts).Doc("old")
	if _, err := old.Set(context.Background(), map[string]any{
		"ranking": string(SearchTerms), "size": "1m", "bucket": t0, "expires_at": t0.Add(48 * time.Hour),
		"c": map[string]any{hashKey("a.b"): 5, hashKey("old only"): 1},
		"k": map[string]any{hashKey("a.b"): "a.b", hashKey("old only"): "old only"},
	}); err != nil {
		t.Fatalf("writing an earlier-form counter: %v", err)
	}
	f, _ := countField(long)
	if _, err := s.c.Collection(s.o.Collections.Counts).Doc("unlabelled").Set(context.Background(), map[string]any{
		"ranking": string(SearchTerms), "size": "1m", "bucket": t0, "expires_at": t0.Add(48 * time.Hour),
		"c": map[string]any{f: 10},
	}); err != nil {
		t.Fatalf("writing a counter without its label: %v", err)
	}
	want := []Item{{Key: long, Count: 18}, {Key: long[:maxKeyField], Count: 7}, {Key: "=eq", Count: 6}, {Key: "a.b", Count: 6},
		{Key: "ünï", Count: 5}, {Key: "with space", Count: 4}, {Key: "__name__", Count: 3}, {Key: "`tick`", Count: 2}, {Key: "old only", Count: 1}}
	if diff := cmp.Diff(want, top(t, s, SearchTerms, "15m", t0.Add(time.Minute))); diff != "" {
		t.Errorf("search terms (-want +got):\n%s", diff)
	}
}
