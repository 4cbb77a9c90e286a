package serverankings

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
	"github.com/pipelinekit/pipelinekit/shared/viewtoken"
)

func TestMain(m *testing.M) {
	functest.ServeChildIfAsked()
	os.Exit(gcloudemu.Main(m, gcloudemu.Firestore))
}

var now = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)

// serve returns the handler over a fresh store holding a few events, on an httptest server.
func serve(t *testing.T) (*httptest.Server, *rankings.Store) {
	t.Helper()
	fs, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	store := rankings.NewStore(fs, rankings.Options{})
	t.Cleanup(func() { store.Close(); fs.Close() })
	tw := func(id string, tags ...string) rankings.Entry {
		e := rankings.Entry{Key: "t:" + id, PublishTime: now.Add(-time.Minute), MessageID: "m" + id,
			Tweet: &rankings.Tweet{ID: id, Kind: "tweet", Text: "hello #" + tags[0], CreatedAt: now.Add(-time.Duration(len(id)) * time.Second), Hashtags: tags}}
		for _, tag := range tags {
			e.Counts = append(e.Counts, rankings.Count{Ranking: rankings.Hashtags, Key: tag})
		}
		return e
	}
	for _, e := range []rankings.Entry{tw("1", "gcp"), tw("22", "gcp"), tw("333", "go"),
		{Key: "e:v1", PublishTime: now, MessageID: "v1", Counts: []rankings.Count{{Ranking: rankings.Popularity, Key: "film-9"}},
			View: &rankings.ViewEvent{UserID: "u1", ItemID: "film-9", Time: now}}} {
		if err := store.Apply(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(NewHandler(store, Config{CacheTTL: 5 * time.Second, Views: testViews}, func() time.Time { return now }))
	t.Cleanup(srv.Close)
	return srv, store
}

// testKey signs the tests' recent-views tokens; testViews checks them at now.
var (
	testKey   = []byte("test-key-test-key-test-key-test-key")
	testViews = TokenAuthorizer{Key: StaticKey(testKey), Now: func() time.Time { return now }}
)

// viewToken returns a token for user, valid for a minute from now.
func viewToken(t *testing.T, user string) string {
	t.Helper()
	tok, err := viewtoken.Mint(testKey, user, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func get(t *testing.T, u string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestRankingIsCacheableJSON(t *testing.T) {
	srv, _ := serve(t)
	res, body := get(t, srv.URL+"/rankings/hashtags?window=15m&n=1", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /rankings/hashtags = %d %s", res.StatusCode, body)
	}
	var got RankingResponse
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := RankingResponse{Ranking: "hashtags", Window: "15m", From: time.Date(2026, 3, 1, 12, 16, 0, 0, time.UTC),
		To: time.Date(2026, 3, 1, 12, 31, 0, 0, time.UTC), AsOf: now, Items: []rankings.Item{{Key: "gcp", Count: 2}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GET /rankings/hashtags (-want +got):\n%s", diff)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "private, max-age=5" {
		t.Errorf("Cache-Control = %q, want private, max-age=5", cc)
	}
	etag := res.Header.Get("ETag")
	if res2, _ := get(t, srv.URL+"/rankings/hashtags?window=15m&n=1", map[string]string{"If-None-Match": etag}); etag == "" || res2.StatusCode != http.StatusNotModified {
		t.Errorf("GET with If-None-Match %q = %d, want 304", etag, res2.StatusCode)
	}
}

func TestRecentViewsAndLatestTweets(t *testing.T) {
	srv, _ := serve(t)
	_, body := get(t, srv.URL+"/recent_views?user_id=u1", map[string]string{ViewsTokenHeader: viewToken(t, "u1")})
	var views RecentViewsResponse
	if err := json.Unmarshal(body, &views); err != nil || len(views.Items) != 1 || views.Items[0].ItemID != "film-9" {
		t.Errorf("GET /recent_views = %s (%v), want film-9", body, err)
	}
	var ids []string
	cursor := ""
	for range 4 {
		_, body := get(t, srv.URL+"/tweets?q="+url.QueryEscape("#GCP")+"&n=1&cursor="+cursor, nil)
		var page TweetsResponse
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("GET /tweets = %s: %v", body, err)
		}
		for _, tw := range page.Tweets {
			ids = append(ids, tw.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if diff := cmp.Diff([]string{"1", "22"}, ids); diff != "" {
		t.Errorf("tweets for #GCP, newest first (-want +got):\n%s", diff)
	}
}

func TestBadParametersAreNamed(t *testing.T) {
	srv, _ := serve(t)
	tests := []struct {
		path, param string
	}{
		{"/rankings/nope", "ranking"},
		{"/rankings/hashtags?window=2h", "window"},
		{"/rankings/hashtags?n=0", "n"},
		{"/rankings/hashtags?n=101", "n"},
		{"/rankings/hashtags?n=ten", "n"},
		{"/recent_views", "user_id"},
		{"/recent_views?user_id=" + strings.Repeat("u", MaxUserIDLen+1), "user_id"},
		{"/tweets?q=", "q"},
		{"/tweets?q=%2B%2B", "q"},
		{"/tweets?q=" + url.QueryEscape(strings.Repeat("go ", rankings.MaxSearchWords+1)), "q"},
		{"/tweets?q=gcp&cursor=%25%25not-base64", "cursor"},
		{"/tweets?q=gcp&cursor=" + url.QueryEscape("eyJ4IjoxfQ"), "cursor"},
	}
	for _, tc := range tests {
		res, body := get(t, srv.URL+tc.path, nil)
		var e ErrorResponse
		if err := json.Unmarshal(body, &e); err != nil || res.StatusCode != http.StatusBadRequest || e.Param != tc.param {
			t.Errorf("GET %s = %d %s, want 400 naming %s", tc.path, res.StatusCode, body, tc.param)
		}
	}
	if res, body := get(t, srv.URL+"/nowhere", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nowhere = %d %s, want 404", res.StatusCode, body)
	}
	res, err := http.Post(srv.URL+"/rankings/hashtags", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d, want 405: the function is read-only", res.StatusCode)
	}
}

func TestEntryPointRegistered(t *testing.T) {
	names, base := functest.RegisteredEntryPoints(t, "GOOGLE_CLOUD_PROJECT")
	if diff := cmp.Diff([]string{EntryPoint}, names); diff != "" {
		t.Errorf("registered functions (-want +got):\n%s", diff)
	}
	code, body := functest.Request(t, http.MethodGet, base+"/"+EntryPoint, "")
	if code != http.StatusInternalServerError || !strings.Contains(body, "GOOGLE_CLOUD_PROJECT: required but not set") {
		t.Errorf("GET /%s = %d %s, want 500 naming GOOGLE_CLOUD_PROJECT", EntryPoint, code, body)
	}
}

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig(func(k string) (string, bool) {
		v, ok := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "RANKINGS_CACHE_TTL": "10s"}[k]
		return v, ok
	})
	if err != nil || c.Project != "p" || c.CacheTTL != 10*time.Second { // the deck's part: TestLoadConfigDeck
		t.Errorf("LoadConfig = %+v, %v", c, err)
	}
	if _, err := LoadConfig(func(k string) (string, bool) {
		return map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "RANKINGS_CACHE_TTL": "2h"}[k], true
	}); err == nil || !strings.Contains(err.Error(), "RANKINGS_CACHE_TTL") {
		t.Errorf("LoadConfig(RANKINGS_CACHE_TTL=2h) = %v, want an error naming it", err)
	}

}

// TestTweetsAnyTerm: the terms people type (punctuation, a phrase, a #tag, an @handle, Korean
// and Japanese) are answered by the search rule, not refused as "neither one word nor one
// #hashtag".
func TestTweetsAnyTerm(t *testing.T) {
	srv, store := serve(t)
	for i, text := range []string{"Pub/Sub at-least-once, node.js and c++ on Cloud Run", "클라우드에서 메시지를 처리했어요", "東京リージョンでデータを集計"} {
		id := fmt.Sprint(9000 + i)
		e := rankings.Entry{Key: "t:" + id, PublishTime: now.Add(-time.Minute), MessageID: "m" + id,
			Tweet: &rankings.Tweet{ID: id, Kind: "tweet", Text: text, AuthorHandle: "gopher_jo", CreatedAt: now.Add(-time.Minute)}}
		if err := store.Apply(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string]string{"Pub/Sub": "9000", "node.js": "9000", "c++": "9000", "at-least-once": "9000",
		`"cloud run"`: "9000", "@gopher_jo": "9002", "클라우드": "9001", "東京": "9002"} {
		res, body := get(t, srv.URL+"/tweets?n=1&q="+url.QueryEscape(q), nil)
		var page TweetsResponse
		if err := json.Unmarshal(body, &page); err != nil || res.StatusCode != http.StatusOK || len(page.Tweets) != 1 || page.Tweets[0].ID != want {
			t.Errorf("GET /tweets?q=%s = %d %s, want tweet %s", q, res.StatusCode, body, want)
		}
	}
}
