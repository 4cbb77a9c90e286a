package serverankings

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// internal is what a failing Firestore says: addresses and resource names that are for the
// log, not for whoever asked.
const internal = "rpc error: code = Unavailable desc = connection to 10.1.2.3:443 refused (projects/secret-project/databases/(default))"

// failingReader fails every read as an unreachable Firestore does.
type failingReader struct{}

func (failingReader) Top(context.Context, rankings.Ranking, rankings.Window, time.Time) ([]rankings.Item, error) {
	return nil, errors.New("reading counters: " + internal)
}
func (failingReader) RecentViews(context.Context, string) ([]rankings.View, error) {
	return nil, errors.New("reading recent views: " + internal)
}
func (failingReader) Latest(context.Context, rankings.Search, *rankings.Cursor, int) ([]rankings.Tweet, string, error) {
	return nil, "", errors.New("reading latest tweets: " + internal)
}

// fakeBackfill answers the Backfill function's reads: the list, a missing job, and jobs whose
// reads fail in the ways a deployed one can (its own 5xx, Cloud Run refusing the deck's token,
// the connection dropped).
func fakeBackfill(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/backfills":
			io.WriteString(w, `{"jobs":[{"job_id":"bf-1","state":"running"}]}`)
		case "/backfills/bf-missing":
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no such job"}`)
		case "/backfills/bf-broken":
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":"reading job bf-broken: `+internal+`"}`)
		case "/backfills/bf-down":
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "<html>upstream connect error at 10.1.2.3</html>")
		case "/backfills/bf-denied":
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "<html>Error: Forbidden. Your client does not have permission (projects/secret-project)</html>")
		case "/backfills/bf-hangup":
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// serveWith is ServeRankings as deployed (the API over r, with the deck and its backfills
// proxy) logging to log.
func serveWith(t *testing.T, r Reader, log *slog.Logger) *httptest.Server {
	t.Helper()
	d, err := newDeck(t.Context(), DeckConfig{DefaultKeyword: "pipeline", Window: "1h", PollInterval: time.Second,
		BackfillURL: fakeBackfill(t).URL}, log)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(r, Config{CacheTTL: 5 * time.Second, Log: log, Views: testViews}, func() time.Time { return now })
	srv := httptest.NewServer(WithDeck(h, d))
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, u string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestEveryAnswerIsNosniff: whatever ServeRankings answers, a browser must not guess another
// type than the one it says (a JSON body naming a caller's input read as HTML is an XSS).
func TestEveryAnswerIsNosniff(t *testing.T) {
	discard := slog.New(slog.DiscardHandler)
	servers := map[string]*httptest.Server{
		"ok":      serveWith(t, &countingReader{}, discard),
		"failing": serveWith(t, failingReader{}, discard),
	}
	tests := []struct {
		name, store, method, path string
		revalidate                bool // ask again with the first answer's ETag
		want                      int
	}{
		{"json", "ok", "GET", "/rankings/hashtags", false, 200},
		{"index", "ok", "GET", "/rankings", false, 200},
		{"not modified", "ok", "GET", "/rankings/hashtags", true, 304},
		{"head", "ok", "HEAD", "/rankings/hashtags", false, 200},
		{"bad param", "ok", "GET", "/rankings/hashtags?window=2h", false, 400},
		{"no endpoint", "ok", "GET", "/nowhere", false, 404},
		{"api method", "ok", "POST", "/rankings/hashtags", false, 405},
		{"store down", "failing", "GET", "/rankings/hashtags", false, 503},
		{"page", "ok", "GET", "/", false, 200},
		{"page method", "ok", "POST", "/", false, 405},
		{"local redirect", "ok", "GET", "/ServeRankings", false, 301},
		{"backfills", "ok", "GET", "/deck/backfills", false, 200},
		{"backfill missing", "ok", "GET", "/deck/backfills/bf-missing", false, 404},
		{"backfill broken", "ok", "GET", "/deck/backfills/bf-broken", false, 502},
		{"backfill hangup", "ok", "GET", "/deck/backfills/bf-hangup", false, 502},
	}
	type answer struct {
		Status  int
		Nosniff string
	}
	for _, tt := range tests {
		u := servers[tt.store].URL + tt.path
		res, _ := do(t, tt.method, u, nil)
		if tt.revalidate {
			res, _ = do(t, tt.method, u, http.Header{"If-None-Match": {res.Header.Get("ETag")}})
		}
		got := answer{res.StatusCode, res.Header.Get("X-Content-Type-Options")}
		if diff := cmp.Diff(answer{tt.want, "nosniff"}, got); diff != "" {
			t.Errorf("%s: %s %s (-want +got):\n%s", tt.name, tt.method, tt.path, diff)
		}
	}
}

// TestInternalErrorsStayInTheLog: a failing store or Backfill function is logged with its
// error, and the caller gets a generic message without it; a bad parameter is still named.
func TestInternalErrorsStayInTheLog(t *testing.T) {
	var logs bytes.Buffer
	srv := serveWith(t, failingReader{}, logging.New(&logs, slog.LevelInfo))
	const (
		unavailable = `{"error":"rankings are unavailable; try again"}`
		noBackfills = `{"error":"backfills are unavailable; try again"}`
	)
	tests := []struct {
		path     string
		want     int
		wantBody string
		wantLog  string // a part of the ERROR line logged; empty: nothing logged
	}{
		{"/rankings/hashtags", 503, unavailable, "reading counters: " + internal},
		{"/ServeRankings/rankings/retweets?window=1d", 503, unavailable, "reading counters: " + internal},
		{"/recent_views?user_id=u1", 503, unavailable, "reading recent views: " + internal},
		{"/tweets?q=%23gcp", 503, unavailable, "reading latest tweets: " + internal},
		{"/rankings/hashtags?window=2h", 400, `{"error":"window: unknown window \"2h\" (one of 15m, 1h, 1d)","param":"window"}`, ""},
		{"/recent_views", 400, `{"error":"user_id: required","param":"user_id"}`, ""},
		{"/deck/backfills", 200, `{"jobs":[{"job_id":"bf-1","state":"running"}]}`, ""},
		{"/deck/backfills/bf-missing", 404, `{"error":"no such job"}`, ""},
		{"/deck/backfills/bf-broken", 502, noBackfills, "reading job bf-broken: rpc error"},
		{"/deck/backfills/bf-down", 502, noBackfills, "upstream connect error at 10.1.2.3"},
		{"/deck/backfills/bf-denied", 502, noBackfills, "403"},
		{"/deck/backfills/bf-hangup", 502, noBackfills, "/backfills/bf-hangup"},
	}
	type answer struct {
		Status int
		Body   string
	}
	for _, tt := range tests {
		logs.Reset()
		res, body := do(t, http.MethodGet, srv.URL+tt.path, http.Header{ViewsTokenHeader: {viewToken(t, "u1")}})
		if diff := cmp.Diff(answer{tt.want, tt.wantBody}, answer{res.StatusCode, strings.TrimSpace(body)}); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
		}
		logged := logs.String()
		switch {
		case tt.wantLog == "" && logged != "":
			t.Errorf("GET %s logged %s, want nothing", tt.path, logged)
		case tt.wantLog != "" && (!strings.Contains(logged, tt.wantLog) || !strings.Contains(logged, `"severity":"ERROR"`)):
			t.Errorf("GET %s logged %q, want an ERROR line with %q", tt.path, logged, tt.wantLog)
		}
	}
}
