package youtube_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
)

// fakeClock is a settable clock shared by the client and the fake server.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newYouTube starts a fake and a client pointed at it.
func newYouTube(t *testing.T, clock func() time.Time, timeout time.Duration, opts ...sourcestest.Option) (*youtubefake.YouTubeServer, *youtube.YouTube) {
	t.Helper()
	if clock != nil {
		opts = append(opts, sourcestest.WithClock(clock))
	}
	srv := youtubefake.NewYouTubeServer(opts...)
	t.Cleanup(srv.Close)
	yt, err := youtube.NewYouTube(context.Background(), youtube.YouTubeConfig{
		ClientID:     sourcestest.DefaultClientID,
		ClientSecret: sourcestest.DefaultClientSecret,
		RefreshToken: sourcestest.DefaultRefreshToken,
		TokenURL:     srv.TokenURL(),
		BaseURL:      srv.URL(),
		HTTPTimeout:  timeout,
		Now:          clock,
	})
	if err != nil {
		t.Fatalf("NewYouTube() error = %v", err)
	}
	return srv, yt
}

func dailyQuery() youtube.YouTubeQuery {
	return youtube.YouTubeQuery{
		IDs:        "channel==MINE",
		StartDate:  "2024-02-27",
		EndDate:    "2024-03-02",
		Metrics:    []string{"views", "likes", "grossRevenue"},
		Dimensions: []string{"day"},
		Filters:    "video==abc123",
		Sort:       "day",
	}
}

func TestQueryRoundTripsRowsAndTypes(t *testing.T) {
	_, yt := newYouTube(t, nil, 0)
	v := youtubefake.YouTubeValue
	days := []string{"2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"}
	var wantDaily [][]any
	var totalViews, totalLikes int64
	for _, d := range days {
		wantDaily = append(wantDaily, []any{d, v("abc123", d, "views"), v("abc123", d, "likes"), v("abc123", d, "grossRevenue")})
		totalViews += v("abc123", d, "views").(int64)
		totalLikes += v("abc123", d, "likes").(int64)
	}
	totals := dailyQuery()
	totals.Dimensions, totals.Sort, totals.Metrics = nil, "", []string{"views", "likes"}
	descending := dailyQuery()
	descending.Sort, descending.MaxResults, descending.StartIndex = "-day", 2, 2

	tests := []struct {
		name     string
		q        youtube.YouTubeQuery
		wantCols []sources.Column
		wantRows [][]any
	}{
		{
			name: "daily rows for one video",
			q:    dailyQuery(),
			wantCols: []sources.Column{
				{Name: "day", Type: "STRING", ColumnType: "DIMENSION"},
				{Name: "views", Type: "INTEGER", ColumnType: "METRIC"},
				{Name: "likes", Type: "INTEGER", ColumnType: "METRIC"},
				{Name: "grossRevenue", Type: "FLOAT", ColumnType: "METRIC"},
			},
			wantRows: wantDaily,
		},
		{
			name: "totals without dimensions",
			q:    totals,
			wantCols: []sources.Column{
				{Name: "views", Type: "INTEGER", ColumnType: "METRIC"},
				{Name: "likes", Type: "INTEGER", ColumnType: "METRIC"},
			},
			wantRows: [][]any{{totalViews, totalLikes}},
		},
		{
			name: "descending sort with startIndex and maxResults",
			q:    descending,
			wantCols: []sources.Column{
				{Name: "day", Type: "STRING", ColumnType: "DIMENSION"},
				{Name: "views", Type: "INTEGER", ColumnType: "METRIC"},
				{Name: "likes", Type: "INTEGER", ColumnType: "METRIC"},
				{Name: "grossRevenue", Type: "FLOAT", ColumnType: "METRIC"},
			},
			wantRows: [][]any{wantDaily[3], wantDaily[2]},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := yt.Query(context.Background(), tt.q)
			if err != nil {
				t.Fatalf("Query() error = %v", err)
			}
			if diff := cmp.Diff(tt.wantCols, res.Columns); diff != "" {
				t.Errorf("Query().Columns mismatch (-want +got):\n%s", diff)
			}
			// cmp.Diff tells int64 from float64, so this also checks the types.
			if diff := cmp.Diff(tt.wantRows, res.Rows); diff != "" {
				t.Errorf("Query().Rows mismatch (-want +got):\n%s", diff)
			}
			if res.APICalls != 1 {
				t.Errorf("Query().APICalls = %d, want 1", res.APICalls)
			}
			var raw map[string]any
			if err := json.Unmarshal(res.Raw, &raw); err != nil || raw["kind"] != "youtubeAnalytics#resultTable" {
				t.Errorf("Query().Raw = %s, want the resultTable body (err %v)", res.Raw, err)
			}
		})
	}
}

func TestQueryKeepsBodyAsReceived(t *testing.T) {
	_, yt := newYouTube(t, nil, 0)
	q := dailyQuery()
	q.Metrics = []string{"averageViewPercentage"}
	q.StartDate, q.EndDate = "2024-01-01", "2024-01-01"
	res, err := yt.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("Query() error = %v", err)
	}
	// The fake writes "kind" first; a QueryResponse re-marshalled by the
	// generated client would start with "columnHeaders", so this proves Raw
	// is the wire body.
	want := `{"kind":"youtubeAnalytics#resultTable","columnHeaders":`
	if !strings.HasPrefix(string(res.Raw), want) || !json.Valid(res.Raw) {
		t.Errorf("Query().Raw = %s, want the wire body starting with %s", res.Raw, want)
	}
	if got := res.Rows[0][1]; got != youtubefake.YouTubeValue("abc123", "2024-01-01", "averageViewPercentage") {
		t.Errorf("Query().Rows[0][1] = %v (%T), want %v", got, got, youtubefake.YouTubeValue("abc123", "2024-01-01", "averageViewPercentage"))
	}
}

func TestQueryEmptyReportHasNoRows(t *testing.T) {
	_, yt := newYouTube(t, nil, 0, sourcestest.WithVideos())
	q := dailyQuery()
	q.Filters = ""
	res, err := yt.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("Query() error = %v", err)
	}
	if len(res.Rows) != 0 || strings.Contains(string(res.Raw), `"rows"`) {
		t.Errorf("Query() rows = %v, raw %s; want no rows and no rows key", res.Rows, res.Raw)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	clock := newFakeClock()
	srv, yt := newYouTube(t, clock.Now, 0, sourcestest.WithTokenTTL(time.Hour))
	steps := []struct {
		advance       time.Duration
		wantRefreshes int
	}{
		{0, 1},                // first query fetches a token
		{50 * time.Minute, 1}, // 10 min left: reused
		{6 * time.Minute, 2},  // 4 min left, inside the 5 min margin: refreshed early
		{30 * time.Minute, 2}, // new token has 30 min left
		{26 * time.Minute, 3},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if _, err := yt.Query(context.Background(), dailyQuery()); err != nil {
			t.Fatalf("step %d: Query() error = %v", i, err)
		}
		if got := srv.Stats().TokenRefreshes; got != s.wantRefreshes {
			t.Errorf("step %d: TokenRefreshes = %d, want %d", i, got, s.wantRefreshes)
		}
	}
	if got := srv.Stats().ByStatus[401]; got != 0 {
		t.Errorf("401 responses = %d, want 0 (tokens must be replaced before they expire)", got)
	}
}

func TestQueryRefreshesAndRetriesOnceOn401(t *testing.T) {
	srv, yt := newYouTube(t, nil, 0)
	if _, err := yt.Query(context.Background(), dailyQuery()); err != nil {
		t.Fatalf("first Query() error = %v", err)
	}
	srv.ExpireAccessTokens()
	res, err := yt.Query(context.Background(), dailyQuery())
	if err != nil {
		t.Fatalf("Query() after expiry error = %v", err)
	}
	if res.APICalls != 2 {
		t.Errorf("Query().APICalls = %d, want 2 (401, then retry)", res.APICalls)
	}
	st := srv.Stats()
	if st.TokenRefreshes != 2 || st.ByStatus[401] != 1 {
		t.Errorf("Stats() refreshes = %d, 401s = %d; want 2 and 1", st.TokenRefreshes, st.ByStatus[401])
	}

	// A second 401 after the refresh is not retried again.
	srv.FailNext(2, 401, "authError")
	_, err = yt.Query(context.Background(), dailyQuery())
	var se *sources.Error
	if !errors.As(err, &se) || se.Kind != sources.Transient || se.Status != 401 {
		t.Fatalf("Query() with two 401s error = %v, want Transient 401", err)
	}
	if se.APICalls != 2 {
		t.Errorf("Query() with two 401s counted %d API calls, want 2", se.APICalls)
	}
	if got := srv.Stats().ByStatus[401]; got != 3 {
		t.Errorf("401 responses = %d, want 3 (one retry only)", got)
	}
}

func TestRevokedRefreshTokenIsAuthRevoked(t *testing.T) {
	tests := []struct {
		name   string
		warmUp bool
	}{
		{name: "revoked before the first token", warmUp: false},
		{name: "revoked while a token was cached", warmUp: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, yt := newYouTube(t, nil, 0)
			if tt.warmUp {
				if _, err := yt.Query(context.Background(), dailyQuery()); err != nil {
					t.Fatalf("warm-up Query() error = %v", err)
				}
				srv.ExpireAccessTokens()
			}
			srv.RevokeRefreshToken()
			res, err := yt.Query(context.Background(), dailyQuery())
			var se *sources.Error
			if !errors.As(err, &se) || se.Kind != sources.AuthRevoked || se.Reason != "invalid_grant" {
				t.Fatalf("Query() = %v, %v; want AuthRevoked invalid_grant", res, err)
			}
			if !strings.Contains(err.Error(), "Token has been expired or revoked.") {
				t.Errorf("Query() error = %q, want Google's description", err)
			}
		})
	}
}

func TestQueryErrorClassification(t *testing.T) {
	tests := []struct {
		name           string
		fail           func(*youtubefake.YouTubeServer)
		edit           func(*youtube.YouTubeQuery)
		wantKind       sources.ErrorKind
		wantStatus     int
		wantReason     string
		wantRetryAfter time.Duration
		wantMessage    string
	}{
		{
			name:       "429 with Retry-After",
			fail:       func(s *youtubefake.YouTubeServer) { s.FailNext(1, 429, "rateLimitExceeded") },
			wantKind:   sources.Transient,
			wantStatus: 429, wantReason: "rateLimitExceeded", wantRetryAfter: 7 * time.Second,
		},
		{
			name:       "503",
			fail:       func(s *youtubefake.YouTubeServer) { s.FailNext(1, 503, "backendError") },
			wantKind:   sources.Transient,
			wantStatus: 503, wantReason: "backendError",
		},
		{
			name:       "403 quotaExceeded is transient",
			fail:       func(s *youtubefake.YouTubeServer) { s.FailNext(1, 403, "quotaExceeded") },
			wantKind:   sources.Transient,
			wantStatus: 403, wantReason: "quotaExceeded",
		},
		{
			name:       "403 not the channel owner",
			edit:       func(q *youtube.YouTubeQuery) { q.IDs = "channel==UCsomeoneelse" },
			wantKind:   sources.Permanent,
			wantStatus: 403, wantReason: "forbidden",
		},
		{
			name:       "404",
			fail:       func(s *youtubefake.YouTubeServer) { s.FailNext(1, 404, "notFound") },
			wantKind:   sources.Permanent,
			wantStatus: 404, wantReason: "notFound",
		},
		{
			name:       "400 unknown metric carries Google's message",
			edit:       func(q *youtube.YouTubeQuery) { q.Metrics = []string{"views", "foo"} },
			wantKind:   sources.Permanent,
			wantStatus: 400, wantReason: "badRequest",
			wantMessage: "Unknown identifier (foo) given in field parameters.metrics.",
		},
		{
			name:       "invalid date never reaches the API",
			edit:       func(q *youtube.YouTubeQuery) { q.StartDate = "2024-3-1" },
			wantKind:   sources.Permanent,
			wantReason: "invalidQuery",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, yt := newYouTube(t, nil, 0, sourcestest.With429Rate(0, 7*time.Second))
			if tt.fail != nil {
				tt.fail(srv)
			}
			q := dailyQuery()
			if tt.edit != nil {
				tt.edit(&q)
			}
			_, err := yt.Query(context.Background(), q)
			var se *sources.Error
			if !errors.As(err, &se) {
				t.Fatalf("Query() error = %v, want *sources.Error", err)
			}
			got := []any{se.Kind, se.Status, se.Reason, se.RetryAfter}
			want := []any{tt.wantKind, tt.wantStatus, tt.wantReason, tt.wantRetryAfter}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Query() error %v: kind/status/reason/retryAfter mismatch (-want +got):\n%s", err, diff)
			}
			if !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("Query() error = %q, want it to contain %q", err, tt.wantMessage)
			}
			if sources.KindOf(err) != tt.wantKind {
				t.Errorf("KindOf(%v) = %v, want %v", err, sources.KindOf(err), tt.wantKind)
			}
		})
	}
}

func TestQueryTimeoutIsTransient(t *testing.T) {
	_, yt := newYouTube(t, nil, 100*time.Millisecond, sourcestest.WithLatency(10*time.Second))
	start := time.Now()
	_, err := yt.Query(context.Background(), dailyQuery())
	var se *sources.Error
	if !errors.As(err, &se) || se.Kind != sources.Transient || se.Reason != "timeout" {
		t.Fatalf("Query() error = %v, want Transient timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Query() took %v, want about the 100ms timeout", d)
	}
}

func TestTokenEndpointDownIsTransient(t *testing.T) {
	srv := youtubefake.NewYouTubeServer()
	srv.Close() // nothing listens any more
	yt, err := youtube.NewYouTube(context.Background(), youtube.YouTubeConfig{
		ClientID: "id", ClientSecret: "secret", RefreshToken: "rt",
		TokenURL: srv.TokenURL(), BaseURL: srv.URL(), HTTPTimeout: time.Second,
	})
	if err != nil {
		t.Fatalf("NewYouTube() error = %v", err)
	}
	_, err = yt.Query(context.Background(), dailyQuery())
	if got := sources.KindOf(err); got != sources.Transient {
		t.Errorf("KindOf(Query() error %v) = %v, want transient", err, got)
	}
}

func TestConcurrentQueriesShareOneTokenSource(t *testing.T) {
	srv, yt := newYouTube(t, nil, 0, sourcestest.WithLatency(5*time.Millisecond))
	const workers = 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := dailyQuery()
			q.Filters = "video==v" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			if _, err := yt.Query(context.Background(), q); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Query() error = %v", err)
	}
	st := srv.Stats()
	if st.TokenRefreshes != 1 || st.Calls != workers || st.MaxVideoDayCalls != 1 {
		t.Errorf("Stats() = refreshes %d, calls %d, max calls per video-day %d; want 1, %d, 1", st.TokenRefreshes, st.Calls, st.MaxVideoDayCalls, workers)
	}
}

// BenchmarkQuery measures one daily report (one video, one year) through the
// generated client against the local server.
func BenchmarkQuery(b *testing.B) {
	srv := youtubefake.NewYouTubeServer()
	defer srv.Close()
	yt, err := youtube.NewYouTube(context.Background(), youtube.YouTubeConfig{
		ClientID: sourcestest.DefaultClientID, ClientSecret: sourcestest.DefaultClientSecret,
		RefreshToken: sourcestest.DefaultRefreshToken, TokenURL: srv.TokenURL(), BaseURL: srv.URL(),
	})
	if err != nil {
		b.Fatal(err)
	}
	q := dailyQuery()
	q.StartDate, q.EndDate = "2024-01-01", "2024-12-31"
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := yt.Query(context.Background(), q); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
