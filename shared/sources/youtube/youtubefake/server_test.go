package youtubefake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// token gets an access token from s's token endpoint.
func token(t *testing.T, s *YouTubeServer) string {
	t.Helper()
	status, body := postToken(t, s, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {sourcestest.DefaultRefreshToken},
		"client_id": {sourcestest.DefaultClientID}, "client_secret": {sourcestest.DefaultClientSecret},
	})
	if status != 200 {
		t.Fatalf("POST /token = %d %v, want 200", status, body)
	}
	return body["access_token"].(string)
}

func postToken(t *testing.T, s *YouTubeServer, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatalf("POST /token: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decoding token response: %v", err)
	}
	return resp.StatusCode, body
}

// getReport calls GET /v2/reports with params and bearer token tok.
func getReport(t *testing.T, s *YouTubeServer, tok string, params url.Values) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL()+"/v2/reports?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /v2/reports: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func params(kv ...string) url.Values {
	v := url.Values{"ids": {"channel==MINE"}, "startDate": {"2024-01-01"}, "endDate": {"2024-01-03"}, "metrics": {"views"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

func TestReportErrorShapes(t *testing.T) {
	s := NewYouTubeServer()
	defer s.Close()
	tok := token(t, s)
	tests := []struct {
		name       string
		tok        string
		params     url.Values
		wantStatus int
		wantBody   string
	}{
		{
			name: "unknown metric", tok: tok, params: params("metrics", "views,x"),
			wantStatus: 400,
			wantBody:   `{"error":{"code":400,"message":"Unknown identifier (x) given in field parameters.metrics.","errors":[{"message":"Unknown identifier (x) given in field parameters.metrics.","domain":"global","reason":"badRequest"}],"status":"INVALID_ARGUMENT"}}`,
		},
		{
			name: "unknown token", tok: "ya29.nope", params: params(),
			wantStatus: 401,
			wantBody:   `{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.","errors":[{"message":"Invalid Credentials","domain":"global","reason":"authError","location":"Authorization","locationType":"header"}],"status":"UNAUTHENTICATED"}}`,
		},
		{
			name: "another channel", tok: tok, params: params("ids", "channel==UCother"),
			wantStatus: 403,
			wantBody:   `{"error":{"code":403,"message":"Forbidden","errors":[{"message":"Forbidden","domain":"global","reason":"forbidden"}],"status":"PERMISSION_DENIED"}}`,
		},
		{
			name: "top videos without maxResults", tok: tok, params: params("dimensions", "video"),
			wantStatus: 400,
			wantBody:   `{"error":{"code":400,"message":"` + notSupported + `","errors":[{"message":"` + notSupported + `","domain":"global","reason":"badRequest"}],"status":"INVALID_ARGUMENT"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := getReport(t, s, tt.tok, tt.params)
			if status != tt.wantStatus {
				t.Errorf("GET /v2/reports status = %d, want %d", status, tt.wantStatus)
			}
			if diff := cmp.Diff(decode(t, []byte(tt.wantBody)), decode(t, body)); diff != "" {
				t.Errorf("GET /v2/reports body mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokenEndpoint(t *testing.T) {
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s := NewYouTubeServer(sourcestest.WithTokenTTL(10*time.Minute), sourcestest.WithClock(now))
	defer s.Close()

	good := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {sourcestest.DefaultRefreshToken}, "client_id": {sourcestest.DefaultClientID}, "client_secret": {sourcestest.DefaultClientSecret}}
	status, body := postToken(t, s, good)
	if status != 200 || body["expires_in"] != 600.0 || body["token_type"] != "Bearer" {
		t.Fatalf("POST /token = %d %v, want 200 with expires_in 600", status, body)
	}
	tok := body["access_token"].(string)
	if st, _, _ := getReport(t, s, tok, params()); st != 200 {
		t.Errorf("report with a fresh token = %d, want 200", st)
	}
	mu.Lock()
	clock = clock.Add(10 * time.Minute)
	mu.Unlock()
	if st, hdr, _ := getReport(t, s, tok, params()); st != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("report with an expired token = %d (%q), want 401 invalid_token", st, hdr.Get("WWW-Authenticate"))
	}

	badSecret := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {sourcestest.DefaultRefreshToken}, "client_id": {sourcestest.DefaultClientID}, "client_secret": {"x"}}
	if status, body := postToken(t, s, badSecret); status != 401 || body["error"] != "invalid_client" {
		t.Errorf("POST /token with a wrong secret = %d %v, want 401 invalid_client", status, body)
	}
	s.RevokeRefreshToken()
	status, body = postToken(t, s, good)
	want := map[string]any{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
	if diff := cmp.Diff(want, body); status != 400 || diff != "" {
		t.Errorf("POST /token after revoke = %d, body mismatch (-want +got):\n%s", status, diff)
	}
	if got := s.Stats().TokenRefreshes; got != 1 {
		t.Errorf("Stats().TokenRefreshes = %d, want 1", got)
	}
}

func TestReportsAreDeterministic(t *testing.T) {
	s := NewYouTubeServer()
	defer s.Close()
	tok := token(t, s)
	p := params("metrics", "views,likes,estimatedRevenue", "dimensions", "day", "filters", "video==a,b")
	_, _, first := getReport(t, s, tok, p)
	_, _, second := getReport(t, s, tok, p)
	if string(first) != string(second) {
		t.Errorf("same query gave %s then %s, want identical bodies", first, second)
	}
	dec := json.NewDecoder(strings.NewReader(string(first)))
	dec.UseNumber()
	var raw struct {
		Rows [][]any `json:"rows"`
	}
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	views := YouTubeValue("a", "2024-01-02", "views").(int64) + YouTubeValue("b", "2024-01-02", "views").(int64)
	if got := raw.Rows[1][1].(json.Number).String(); got != strconv.FormatInt(views, 10) {
		t.Errorf("views on 2024-01-02 for a,b = %s, want %d", got, views)
	}
	if got := s.VideoDayCalls("a", "2024-01-02"); got != 2 {
		t.Errorf("VideoDayCalls(a, 2024-01-02) = %d, want 2", got)
	}
}

func TestFaultsAreSeeded(t *testing.T) {
	statuses := func(seed uint64) []int {
		s := NewYouTubeServer(sourcestest.WithFailRate(0.3), sourcestest.With429Rate(0.2, 3*time.Second), sourcestest.WithSeed(seed))
		defer s.Close()
		tok := token(t, s)
		var out []int
		for range 40 {
			st, hdr, _ := getReport(t, s, tok, params())
			if st == 429 && hdr.Get("Retry-After") != "3" {
				t.Errorf("429 Retry-After = %q, want 3", hdr.Get("Retry-After"))
			}
			out = append(out, st)
		}
		return out
	}
	a, b := statuses(7), statuses(7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("statuses with the same seed differ (-first +second):\n%s", diff)
	}
	count := map[int]int{}
	for _, st := range a {
		count[st]++
	}
	if count[503] == 0 || count[429] == 0 || count[200] == 0 {
		t.Errorf("statuses = %v, want a mix of 200, 429 and 503", count)
	}
}

// TestLatencyDoesNotSerializeRequests: requests overlap their latency. The latency is long so
// that the bound, half the serialized time, leaves seconds for a loaded machine's overhead.
func TestLatencyDoesNotSerializeRequests(t *testing.T) {
	const n, latency = 20, time.Second
	s := NewYouTubeServer(sourcestest.WithLatency(latency))
	defer s.Close()
	tok := token(t, s)
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, _, _ := getReport(t, s, tok, params()); st != 200 {
				t.Errorf("GET /v2/reports = %d, want 200", st)
			}
		}()
	}
	wg.Wait()
	// Serialized, 20 requests would take 20 s; overlapped, about 1 s.
	if d := time.Since(start); d > n*latency/2 {
		t.Errorf("%d concurrent requests with %v latency took %v, want them to overlap", n, latency, d)
	}
}

// BenchmarkReports measures report throughput (the target is >1,000/s).
func BenchmarkReports(b *testing.B) {
	s := NewYouTubeServer()
	defer s.Close()
	resp, err := http.PostForm(s.TokenURL(), url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {sourcestest.DefaultRefreshToken},
		"client_id": {sourcestest.DefaultClientID}, "client_secret": {sourcestest.DefaultClientSecret},
	})
	if err != nil {
		b.Fatal(err)
	}
	var tb map[string]any
	json.NewDecoder(resp.Body).Decode(&tb)
	resp.Body.Close()
	tok := tb["access_token"].(string)
	u := s.URL() + "/v2/reports?" + params("dimensions", "day", "filters", "video==abc", "endDate", "2024-12-31").Encode()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
