package deck

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty keyword", Config{DefaultKeyword: "  "}, "DefaultKeyword is empty"},
		{"bare hash", Config{DefaultKeyword: "#"}, "DefaultKeyword is empty"},
		{"long keyword", Config{DefaultKeyword: strings.Repeat("é", MaxQueryLen/2+1)}, "at most 100 bytes"},
		{"two words", Config{DefaultKeyword: "cloud functions"}, "not one word"},
		{"window", Config{DefaultKeyword: "gcp", Window: "2h"}, `Window "2h"`},
		{"poll", Config{DefaultKeyword: "gcp", PollInterval: 1}, "PollInterval"},
		{"api base", Config{DefaultKeyword: "gcp", APIBase: "ftp://x"}, "APIBase"},
		{"backfill url", Config{DefaultKeyword: "gcp", BackfillURL: "backfill"}, "BackfillURL"},
		{"health url", Config{DefaultKeyword: "gcp", HealthURL: "file:///etc/passwd"}, "HealthURL"},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New(%+v) = %v, want an error containing %q", tt.name, tt.cfg, err, tt.want)
		}
	}
}

func get(t *testing.T, h http.Handler, method, target string, hdr http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIndexCarriesConfigAsData: a hostile default keyword reaches the page as JSON data inside
// a non-script block, never as markup, and the page forbids inline script by CSP.
func TestIndexCarriesConfigAsData(t *testing.T) {
	kw := "</script><script>alert(1)</script>\u202egcp"
	h, err := New(Config{DefaultKeyword: kw, APIBase: "https://api.example.com/v1/", Window: "15m"})
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, h, http.MethodGet, "/", nil)
	page := body(t, resp)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if strings.Count(page, "<script") != 3 {
		t.Errorf("GET / has %d <script tags, want 3 (config, account.js and deck.js):\n%s", strings.Count(page, "<script"), page)
	}
	m := regexp.MustCompile(`(?s)<script id="deck-config" type="application/json">(.*?)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("GET / has no config block:\n%s", page)
	}
	var got pageConfig
	if err := json.Unmarshal([]byte(m[1]), &got); err != nil {
		t.Fatalf("config block %s: %v", m[1], err)
	}
	want := pageConfig{DefaultKeyword: kw, APIBase: "https://api.example.com/v1", Window: "15m", PollMS: 5000, MaxQueryLen: MaxQueryLen}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("page config (-want +got):\n%s", diff)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, part := range []string{"script-src 'self'", "connect-src 'self' https://api.example.com", "default-src 'none'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("CSP %q lacks %q", csp, part)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET / has no nosniff")
	}
}

func TestAssetsAndMethods(t *testing.T) {
	h, err := New(Config{DefaultKeyword: "gcp"})
	if err != nil {
		t.Fatal(err)
	}
	for path, ct := range map[string]string{"/deck/deck.js": "text/javascript; charset=utf-8", "/deck/deck.css": "text/css; charset=utf-8"} {
		resp := get(t, h, http.MethodGet, path+"?v=1", nil)
		b := body(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || len(b) < 1000 {
			t.Errorf("GET %s = %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
		tag := resp.Header.Get("ETag")
		if again := get(t, h, http.MethodGet, path, http.Header{"If-None-Match": {tag}}); again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s = %d, want 304", path, tag, again.StatusCode)
		}
	}
	tests := []struct {
		method, path string
		want         int
	}{
		{"HEAD", "/", 200},
		{"POST", "/", 405},
		{"DELETE", "/deck/backfills/bf-1", 405},
		{"GET", "/nope", 404},
		{"GET", "/deck/web/deck.js", 404},
		{"GET", "/deck/backfills", 404}, // no Backfill function configured
	}
	for _, tt := range tests {
		if got := get(t, h, tt.method, tt.path, nil).StatusCode; got != tt.want {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, got, tt.want)
		}
	}
}

// TestBackfillsProxy: the panel reads the Backfill function through the deck (one origin, the
// deck's client and token), and only its two read endpoints.
func TestBackfillsProxy(t *testing.T) {
	var gotPaths []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPaths = append(gotPaths, r.Method+" "+r.URL.RequestURI())
		if r.URL.Path == "/base/backfills/bf-missing" {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"no such job"}`)
			return
		}
		io.WriteString(w, `{"jobs":[]}`)
	}))
	defer upstream.Close()
	h, err := New(Config{DefaultKeyword: "gcp", BackfillURL: upstream.URL + "/base/"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		want     int
		wantBody string
	}{
		{"/deck/backfills?page_token=abc&evil=1", 200, `{"jobs":[]}`},
		{"/deck/backfills/bf-1a2b", 200, `{"job_id":"","state":""}`},
		{"/deck/backfills/bf-missing", 404, `{"error":"no such job"}`},
		{"/deck/backfills/..%2fsecrets", 400, `"param":"id"`},
		{"/deck/backfills/a/b", 400, `"param":"id"`},
	}
	for _, tt := range tests {
		resp := get(t, h, http.MethodGet, tt.path, nil)
		if b := body(t, resp); resp.StatusCode != tt.want || !strings.Contains(b, tt.wantBody) {
			t.Errorf("GET %s = %d %s, want %d with %s", tt.path, resp.StatusCode, b, tt.want, tt.wantBody)
		}
	}
	want := []string{"GET /base/backfills?page_token=abc", "GET /base/backfills/bf-1a2b", "GET /base/backfills/bf-missing"}
	if diff := cmp.Diff(want, gotPaths); diff != "" {
		t.Errorf("upstream requests (-want +got):\n%s", diff)
	}

	upstream.Close()
	if resp := get(t, h, http.MethodGet, "/deck/backfills", nil); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("GET /deck/backfills with the Backfill function down = %d, want 502", resp.StatusCode)
	}
}

// TestBackfillsProxyPassesOnlyWhatThePageRenders: a status's failure causes (which quote API
// errors), quota and blocked reasons, and any field added later, never reach the page.
func TestBackfillsProxyPassesOnlyWhatThePageRenders(t *testing.T) {
	const status = `{"job_id":"bf-1","state":"running","counts":{"planned":10,"enqueued":10,"succeeded":4,"failed":1,"retrying":2,"cancelled":0,"rows":99,"api_calls":7},` +
		`"rate_per_sec":0.5,"eta_s":12,"failures":[{"cause":"GET https://api.example/v1?appid=SECRET-APPID: 401","count":1,"example":"task 3"}],` +
		`"failures_sampled":true,"blocked":"quota exhausted for key SECRET-KEY","quota":{"tokens_per_day":{"consumed":5}},"created_at":"2026-03-01T12:00:00Z","raw":"SECRET"}`
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/backfills" {
			io.WriteString(w, `{"jobs":[`+status+`],"next_page_token":"SECRET-PAGE"}`)
			return
		}
		io.WriteString(w, status)
	}))
	defer upstream.Close()
	h, err := New(Config{DefaultKeyword: "gcp", BackfillURL: upstream.URL})
	if err != nil {
		t.Fatal(err)
	}
	const job = `{"job_id":"bf-1","state":"running","counts":{"planned":10,"succeeded":4,"failed":1,"retrying":2},"rate_per_sec":0.5,"eta_s":12}`
	for path, want := range map[string]string{"/deck/backfills": `{"jobs":[` + job + `]}`, "/deck/backfills/bf-1": job} {
		resp := get(t, h, http.MethodGet, path, nil)
		if diff := cmp.Diff(want, strings.TrimSpace(body(t, resp))); diff != "" || resp.StatusCode != 200 {
			t.Errorf("GET %s = %d (-want +got):\n%s", path, resp.StatusCode, diff)
		}
	}
}

// FuzzPanelView: whatever the Backfill function answers, the deck passes on a Job or a list of
// them with no other field, or refuses it.
func FuzzPanelView(f *testing.F) {
	f.Add([]byte(`{"jobs":[{"job_id":"a","failures":[{"cause":"x"}]}]}`), false)
	f.Add([]byte(`[{"job_id":"a","counts":{"planned":1}}]`), false)
	f.Add([]byte(`{"job_id":"a","blocked":"b","counts":{"rows":3}}`), true)
	f.Add([]byte(`null`), false)
	allowed := map[string]bool{"jobs": true, "job_id": true, "state": true, "counts": true, "rate_per_sec": true, "eta_s": true,
		"planned": true, "succeeded": true, "failed": true, "cancelled": true, "retrying": true}
	var keys func(v any) []string
	keys = func(v any) (out []string) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				out = append(append(out, k), keys(e)...)
			}
		case []any:
			for _, e := range v {
				out = append(out, keys(e)...)
			}
		}
		return out
	}
	f.Fuzz(func(t *testing.T, body []byte, one bool) {
		out, err := panelView(body, one)
		if err != nil {
			return
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("panelView(%q) = %q, not JSON: %v", body, out, err)
		}
		for _, k := range keys(v) {
			if !allowed[k] {
				t.Fatalf("panelView(%q) passed field %q: %s", body, k, out)
			}
		}
	})
}

// FuzzServeHTTP: whatever path and query a request carries, the deck answers one of its known
// statuses and only ever forwards a job id that is letters, digits, - and _.
func FuzzServeHTTP(f *testing.F) {
	var forwarded []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded = append(forwarded, r.URL.Path)
		io.WriteString(w, `{}`)
	}))
	defer upstream.Close()
	h, err := New(Config{DefaultKeyword: "gcp", BackfillURL: upstream.URL})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"/", "/index.html", "/deck/deck.js?v=1", "/deck/backfills", "/deck/backfills/bf-1",
		"/deck/backfills/../x", "/deck/backfills/%00", "/deck/backfills?page_token=%zz", "//deck//backfills", "/deck/backfills/" + strings.Repeat("a", 101)} {
		f.Add(seed)
	}
	jobPath := regexp.MustCompile(`^/backfills(/[A-Za-z0-9_-]{1,100})?$`)
	f.Fuzz(func(t *testing.T, target string) {
		req, err := http.NewRequest(http.MethodGet, "http://deck.test"+target, nil)
		if err != nil || req.URL.Path == "" || req.URL.Path[0] != '/' {
			return
		}
		forwarded = forwarded[:0]
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 304, 400, 404:
		default:
			t.Errorf("GET %q = %d", target, rec.Code)
		}
		for _, p := range forwarded {
			if !jobPath.MatchString(p) {
				t.Errorf("GET %q forwarded %q to the Backfill function", target, p)
			}
		}
	})
}
