package httpjson_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson/httpjsonfake"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// localPolicy allows the loopback fakes.
var localPolicy = sources.HostPolicy{Allow: []string{"127.0.0.1"}, AllowPrivate: true}

func items(from, to int) []map[string]any {
	var out []map[string]any
	for i := from; i <= to; i++ {
		out = append(out, httpjsonfake.Item(i))
	}
	return out
}

func TestFetchPagination(t *testing.T) {
	api := httpjsonfake.NewJSONAPIServer(sourcestest.WithItems(95), sourcestest.WithPageSize(10))
	defer api.Close()
	h := httpjson.NewHTTPJSON(httpjson.HTTPJSONConfig{Policy: localPolicy})
	tests := []struct {
		name      string
		req       httpjson.HTTPJSONRequest
		wantItems []map[string]any
		wantCalls int
	}{
		{
			name:      "single page",
			req:       httpjson.HTTPJSONRequest{URL: api.URL() + "/items", RecordsPath: "data.items"},
			wantItems: items(1, 10),
			wantCalls: 1,
		},
		{
			name: "next link",
			req: httpjson.HTTPJSONRequest{URL: api.URL() + "/items", RecordsPath: "data.items",
				Pagination: httpjson.Pagination{Type: httpjson.PaginationNextLink, NextPath: "paging.next"}},
			wantItems: items(1, 95),
			wantCalls: 10,
		},
		{
			name: "cursor",
			req: httpjson.HTTPJSONRequest{URL: api.URL() + "/items", RecordsPath: "data.items",
				Pagination: httpjson.Pagination{Type: httpjson.PaginationCursor, CursorPath: "paging.cursor", CursorParam: "cursor"}},
			wantItems: items(1, 95),
			wantCalls: 10,
		},
		{
			name: "page numbers end on an empty page",
			req: httpjson.HTTPJSONRequest{URL: api.URL() + "/items", RecordsPath: "data.items",
				Pagination: httpjson.Pagination{Type: httpjson.PaginationPage, PageParam: "page"}},
			wantItems: items(1, 95),
			wantCalls: 11,
		},
		{
			name: "page numbers from a start page, body is the array",
			req: httpjson.HTTPJSONRequest{URL: api.URL() + "/list", RecordsPath: "",
				Pagination: httpjson.Pagination{Type: httpjson.PaginationPage, PageParam: "page", StartPage: 9}},
			wantItems: items(81, 95),
			wantCalls: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := h.Fetch(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			// Item ids above 2^53 and integral quantities must come back as
			// int64, prices as float64: cmp.Diff compares the types too.
			if diff := cmp.Diff(tt.wantItems, res.Records); diff != "" {
				t.Errorf("Fetch().Records mismatch (-want +got):\n%s", diff)
			}
			if res.APICalls != tt.wantCalls || len(res.Pages) != tt.wantCalls {
				t.Errorf("Fetch() APICalls = %d, pages = %d; want %d", res.APICalls, len(res.Pages), tt.wantCalls)
			}
		})
	}
}

// fixedServer answers every request with the given status, headers and body.
func fixedServer(t *testing.T, status int, header map[string]string, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchErrors(t *testing.T) {
	api := httpjsonfake.NewJSONAPIServer(sourcestest.WithItems(95), sourcestest.WithPageSize(10))
	defer api.Close()
	tests := []struct {
		name           string
		cfg            httpjson.HTTPJSONConfig
		req            func(t *testing.T) httpjson.HTTPJSONRequest
		wantKind       sources.ErrorKind
		wantStatus     int
		wantRetryAfter time.Duration
		wantMessage    string
		wantCalls      int
	}{
		{
			name: "more pages than MaxPages",
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				return httpjson.HTTPJSONRequest{URL: api.URL() + "/items", RecordsPath: "data.items",
					Pagination: httpjson.Pagination{Type: httpjson.PaginationNextLink, NextPath: "paging.next", MaxPages: 3}}
			},
			wantKind:    sources.Permanent,
			wantMessage: "more than 3 pages",
			wantCalls:   3,
		},
		{
			name: "response over the size cap",
			cfg:  httpjson.HTTPJSONConfig{MaxBytes: 100},
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				return httpjson.HTTPJSONRequest{URL: api.URL() + "/items", RecordsPath: "data.items"}
			},
			wantKind:    sources.Permanent,
			wantStatus:  200,
			wantMessage: "response over 100 bytes",
		},
		{
			name: "non-JSON body",
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				return httpjson.HTTPJSONRequest{URL: fixedServer(t, 200, nil, "<html>hi</html>").URL}
			},
			wantKind:    sources.Permanent,
			wantStatus:  200,
			wantMessage: "not JSON",
		},
		{
			name: "records path is not an array",
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				return httpjson.HTTPJSONRequest{URL: api.URL() + "/items", RecordsPath: "paging"}
			},
			wantKind:    sources.Permanent,
			wantStatus:  200,
			wantMessage: `"paging" is an object, not an array`,
		},
		{
			name: "429 with Retry-After seconds",
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				return httpjson.HTTPJSONRequest{URL: fixedServer(t, 429, map[string]string{"Retry-After": "12"}, `{"error":"slow down"}`).URL}
			},
			wantKind:       sources.Transient,
			wantStatus:     429,
			wantRetryAfter: 12 * time.Second,
		},
		{
			name: "503 with Retry-After date",
			cfg:  httpjson.HTTPJSONConfig{Now: func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }},
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				return httpjson.HTTPJSONRequest{URL: fixedServer(t, 503, map[string]string{"Retry-After": "Wed, 01 Jan 2025 00:01:30 GMT"}, `down`).URL}
			},
			wantKind:       sources.Transient,
			wantStatus:     503,
			wantRetryAfter: 90 * time.Second,
		},
		{
			name: "404",
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				return httpjson.HTTPJSONRequest{URL: api.URL() + "/items/9999"}
			},
			wantKind:    sources.Permanent,
			wantStatus:  404,
			wantMessage: "item not found",
		},
		{
			name: "next link repeats",
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				return httpjson.HTTPJSONRequest{URL: fixedServer(t, 200, nil, `{"items":[{"a":1}],"next":"/same"}`).URL + "/same",
					RecordsPath: "items", Pagination: httpjson.Pagination{Type: httpjson.PaginationNextLink, NextPath: "next"}}
			},
			wantKind:    sources.Permanent,
			wantMessage: "repeats an earlier page",
		},
		{
			name: "unknown pagination type",
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				return httpjson.HTTPJSONRequest{URL: api.URL() + "/items", Pagination: httpjson.Pagination{Type: "offset"}}
			},
			wantKind:    sources.Permanent,
			wantMessage: `unknown pagination type "offset"`,
		},
		{
			name: "timeout",
			cfg:  httpjson.HTTPJSONConfig{Timeout: 50 * time.Millisecond},
			req: func(t *testing.T) httpjson.HTTPJSONRequest {
				slow := httpjsonfake.NewJSONAPIServer(sourcestest.WithLatency(10 * time.Second))
				t.Cleanup(slow.Close)
				return httpjson.HTTPJSONRequest{URL: slow.URL() + "/items", RecordsPath: "data.items"}
			},
			wantKind:    sources.Transient,
			wantMessage: "deadline exceeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Policy = localPolicy
			h := httpjson.NewHTTPJSON(cfg)
			_, err := h.Fetch(context.Background(), tt.req(t))
			var se *sources.Error
			if !errors.As(err, &se) {
				t.Fatalf("Fetch() error = %v, want *sources.Error", err)
			}
			got := []any{se.Kind, se.Status, se.RetryAfter}
			want := []any{tt.wantKind, tt.wantStatus, tt.wantRetryAfter}
			if tt.wantCalls > 0 && se.APICalls != tt.wantCalls {
				t.Errorf("Fetch() error counted %d API calls, want %d", se.APICalls, tt.wantCalls)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Fetch() error %v: kind/status/retryAfter mismatch (-want +got):\n%s", err, diff)
			}
			if !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("Fetch() error = %q, want it to contain %q", err, tt.wantMessage)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	policy := sources.HostPolicy{Allow: []string{"api.example.com", "*.data.example.org", "8.8.8.8", "127.0.0.1", "[::1]", "::1"}}
	tests := []struct {
		url     string
		allowed bool
	}{
		{"https://api.example.com/v1/items", true},
		{"https://API.EXAMPLE.COM./v1", true},
		{"https://eu.data.example.org/x", true},
		{"https://data.example.org/x", false}, // *.suffix is subdomains only
		{"https://evil.com/?api.example.com", false},
		{"https://api.example.com.evil.com/", false},
		{"ftp://api.example.com/file", false},
		{"https://user:pw@api.example.com/", false},
		{"http://8.8.8.8/", true},
		{"http://127.0.0.1:8080/", false}, // allowed by name, refused as loopback
		{"http://[::1]/", false},
		{"http://169.254.169.254/computeMetadata/v1/", false},
		{"/relative/path", false},
	}
	for _, tt := range tests {
		err := policy.CheckURL(tt.url)
		if (err == nil) != tt.allowed {
			t.Errorf("CheckURL(%q) = %v, want allowed %v", tt.url, err, tt.allowed)
		}
		if err != nil && !tt.allowed && !errors.Is(err, sources.ErrHostNotAllowed) {
			t.Errorf("CheckURL(%q) = %v, want an error matching ErrHostNotAllowed", tt.url, err)
		}
	}
	if err := (sources.HostPolicy{Allow: []string{"*"}}).CheckURL("http://10.1.2.3/"); err == nil {
		t.Errorf(`HostPolicy{Allow: ["*"]}.CheckURL("http://10.1.2.3/") = nil, want refused (private)`)
	}
	if err := (sources.HostPolicy{}).CheckURL("https://api.example.com/"); err == nil || !strings.Contains(err.Error(), `"api.example.com"`) {
		t.Errorf("HostPolicy{}.CheckURL() = %v, want a refusal naming the host", err)
	}
}

func TestFetchRefusesPrivateAddressAtDialTime(t *testing.T) {
	api := httpjsonfake.NewJSONAPIServer()
	defer api.Close()
	u, err := url.Parse(api.URL())
	if err != nil {
		t.Fatal(err)
	}
	// "localhost" is on the allow-list and passes CheckURL, but it resolves
	// to 127.0.0.1 (or ::1): only the dial-time check can refuse it.
	policy := sources.HostPolicy{Allow: []string{"localhost"}}
	target := "http://localhost:" + u.Port() + "/items"
	if err := policy.CheckURL(target); err != nil {
		t.Fatalf("CheckURL(%q) = %v, want allowed by name", target, err)
	}
	h := httpjson.NewHTTPJSON(httpjson.HTTPJSONConfig{Policy: policy})
	_, err = h.Fetch(context.Background(), httpjson.HTTPJSONRequest{URL: target, RecordsPath: "data.items"})
	if !errors.Is(err, sources.ErrHostNotAllowed) || sources.KindOf(err) != sources.Permanent {
		t.Errorf("Fetch(%q) error = %v, want Permanent ErrHostNotAllowed", target, err)
	}
	if !strings.Contains(fmt.Sprint(err), "at dial time") {
		t.Errorf("Fetch(%q) error = %v, want the dial-time refusal", target, err)
	}
	if got := api.Stats().Calls; got != 0 {
		t.Errorf("server saw %d requests, want 0", got)
	}
}

func TestFetchRefusesRedirectAndLinksOffTheAllowList(t *testing.T) {
	api := httpjsonfake.NewJSONAPIServer()
	defer api.Close()
	u, err := url.Parse(api.URL())
	if err != nil {
		t.Fatal(err)
	}
	offList := "http://localhost:" + u.Port() + "/items"
	redirect := httptest.NewServer(http.RedirectHandler(offList, http.StatusFound))
	defer redirect.Close()
	nextOff := fixedServer(t, 200, nil, `{"items":[{"id":1}],"next":"http://metadata.google.internal/computeMetadata/v1/"}`)

	h := httpjson.NewHTTPJSON(httpjson.HTTPJSONConfig{Policy: localPolicy})
	tests := []struct {
		name string
		req  httpjson.HTTPJSONRequest
	}{
		{"redirect to a host off the list", httpjson.HTTPJSONRequest{URL: redirect.URL + "/start"}},
		{"next link to a host off the list", httpjson.HTTPJSONRequest{URL: nextOff.URL, RecordsPath: "items",
			Pagination: httpjson.Pagination{Type: httpjson.PaginationNextLink, NextPath: "next"}}},
		{"first url off the list", httpjson.HTTPJSONRequest{URL: offList}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.Fetch(context.Background(), tt.req)
			if !errors.Is(err, sources.ErrHostNotAllowed) || sources.KindOf(err) != sources.Permanent {
				t.Errorf("Fetch() error = %v, want Permanent ErrHostNotAllowed", err)
			}
		})
	}
	if got := api.Stats().Calls; got != 0 {
		t.Errorf("off-list server saw %d requests, want 0", got)
	}
}
