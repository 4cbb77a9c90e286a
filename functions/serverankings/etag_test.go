package serverankings

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// TestUnchangedRankingAnswers304: a poll of a ranking whose items did not change gets 304 even
// though the ranking was computed again (a later as_of, a window moved on); once a count
// changes, the poll gets 200 and a new tag. Before, the tag covered as_of, so every
// recomputation answered 200.
func TestUnchangedRankingAnswers304(t *testing.T) {
	fs, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	store := rankings.NewStore(fs, rankings.Options{})
	t.Cleanup(func() { store.Close(); fs.Close() })
	clk := fakeclock.New(now)
	apply := func(id string) {
		t.Helper()
		e := rankings.Entry{Key: "t:" + id, PublishTime: now.Add(-time.Minute), MessageID: "m" + id,
			Tweet:  &rankings.Tweet{ID: id, Kind: "tweet", Text: "#gcp", CreatedAt: now.Add(-time.Minute), Hashtags: []string{"gcp"}},
			Counts: []rankings.Count{{Ranking: rankings.Hashtags, Key: "gcp"}}}
		if err := store.Apply(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	apply("1")
	// No cache: each request computes the ranking again, at the clock's time.
	srv := httptest.NewServer(NewHandler(store, Config{Views: testViews}, clk.Now))
	t.Cleanup(srv.Close)
	const path = "/rankings/hashtags?window=1h"

	res, _ := get(t, srv.URL+path, nil)
	etag := res.Header.Get("ETag")
	if res.StatusCode != http.StatusOK || etag == "" {
		t.Fatalf("GET %s = %d, ETag %q; want 200 with a tag", path, res.StatusCode, etag)
	}
	clk.Advance(90 * time.Second) // a new as_of, and the hour's window has moved on a minute
	if res, body := get(t, srv.URL+path, map[string]string{"If-None-Match": etag}); res.StatusCode != http.StatusNotModified {
		t.Errorf("unchanged ranking, recomputed: GET with If-None-Match %s = %d %s, want 304", etag, res.StatusCode, body)
	}

	apply("2") // #gcp now counts 2
	res, _ = get(t, srv.URL+path, map[string]string{"If-None-Match": etag})
	if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == etag {
		t.Errorf("changed ranking: GET with the old tag = %d, ETag %q; want 200 with a new tag", res.StatusCode, res.Header.Get("ETag"))
	}
}
