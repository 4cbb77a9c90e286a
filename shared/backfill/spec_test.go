package backfill_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"
)

var today = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

var testLimits = backfill.Limits{
	Now:      func() time.Time { return today },
	Settings: httpjson.HostSettings("api.example.com"),
}

const ytBody = `{"source":"youtube_analytics","youtube_analytics":{"video_ids":["b","a"],"metrics":["views","likes"],"dimensions":["day"],"start":"2024-01-01","end":"2025-12-30","chunk":"day","currency":"USD"}}`

const httpBody = `{"source":"http_json","http_json":{"url":"https://api.example.com/items/{id}?lang={lang}","params":{"id":["1","2"],"lang":["en","de"]},"records_path":"data.items","pagination":{"type":"cursor","cursor_path":"meta.next","cursor_param":"cursor","max_pages":100},"headers":{"Accept":"application/json"}}}`

func TestParseSpecRefusesBadFields(t *testing.T) {
	yt := func(inner string) string {
		return `{"source":"youtube_analytics","youtube_analytics":{` + inner + `}}`
	}
	const ok = `"metrics":["views"],"start":"2025-01-01","end":"2025-01-31"`
	hj := func(inner string) string { return `{"source":"http_json","http_json":{` + inner + `}}` }
	tests := []struct {
		name   string
		body   string
		lim    backfill.Limits
		field  string
		reason string // a substring of the reason
	}{
		{"not JSON", `{"source":`, testLimits, "", "invalid JSON"},
		{"trailing data", ytBody + `{}`, testLimits, "", "data after the object"},
		{"unknown top field", `{"source":"youtube_analytics","sauce":1}`, testLimits, "sauce", "unknown field"},
		{"unknown nested field", yt(`"video_ids":["a"],"metric":["views"]`), testLimits, "youtube_analytics.metric", "unknown field"},
		{"field in the wrong case", `{"Source":"youtube_analytics"}`, testLimits, "Source", "unknown field"},
		{"unknown pagination field", hj(`"url":"https://api.example.com/x","pagination":{"type":"page","page_param":"p","size":3}`), testLimits, "http_json.pagination.size", "unknown field"},
		{"wrong type", yt(`"video_ids":"a",` + ok), testLimits, "youtube_analytics.video_ids", "want an array"},
		{"unknown source", `{"source":"tiktok"}`, testLimits, "source", `unknown source "tiktok"`},
		{"missing source", `{}`, testLimits, "source", "missing"},
		{"missing section", `{"source":"youtube_analytics"}`, testLimits, "youtube_analytics", "missing"},
		{"other section", `{"source":"youtube_analytics","http_json":{"url":"https://api.example.com"}}`, testLimits, "http_json", "not used"},
		{"bad start", yt(`"video_ids":["a"],"metrics":["views"],"start":"2025-13-01","end":"2025-12-31"`), testLimits, "youtube_analytics.start", "not a date"},
		{"missing end", yt(`"video_ids":["a"],"metrics":["views"],"start":"2025-01-01"`), testLimits, "youtube_analytics.end", "missing"},
		{"end before start", yt(`"video_ids":["a"],"metrics":["views"],"start":"2025-02-01","end":"2025-01-31"`), testLimits, "youtube_analytics.end", "before start"},
		{"end in the future", yt(`"video_ids":["a"],"metrics":["views"],"start":"2025-02-01","end":"2026-11-23"`), testLimits, "youtube_analytics.end", "in the future (today is 2026-11-22)"},
		{"start in the future", yt(`"video_ids":["a"],"metrics":["views"],"start":"2026-12-01","end":"2026-12-02"`), testLimits, "youtube_analytics.start", "in the future"},
		{"start before YouTube", yt(`"video_ids":["a"],"metrics":["views"],"start":"0024-01-01","end":"2025-01-01"`), testLimits, "youtube_analytics.start", "no data that old"},
		{"unknown metric", yt(`"video_ids":["a"],"metrics":["views","viewz"],"start":"2025-01-01","end":"2025-01-31"`), testLimits, "youtube_analytics.metrics[1]", `unknown YouTube Analytics metric "viewz"`},
		{"no metrics", yt(`"video_ids":["a"],"metrics":[],"start":"2025-01-01","end":"2025-01-31"`), testLimits, "youtube_analytics.metrics", "is empty"},
		{"duplicated metric", yt(`"video_ids":["a"],"metrics":["views","views"],"start":"2025-01-01","end":"2025-01-31"`), testLimits, "youtube_analytics.metrics[1]", "listed twice"},
		{"unknown dimension", yt(`"video_ids":["a"],"dimensions":["day","planet"],` + ok), testLimits, "youtube_analytics.dimensions[1]", `unknown YouTube Analytics dimension "planet"`},
		{"month dimension", yt(`"video_ids":["a"],"dimensions":["month"],` + ok), testLimits, "youtube_analytics.dimensions[0]", "month"},
		{"empty video ids", yt(`"video_ids":[],` + ok), testLimits, "youtube_analytics.video_ids", "is empty"},
		{"neither videos nor channel", yt(ok), testLimits, "youtube_analytics.video_ids", "give video_ids or channel"},
		{"videos and channel", yt(`"video_ids":["a"],"channel":"MINE",` + ok), testLimits, "youtube_analytics.channel", "not both"},
		{"duplicated video", yt(`"video_ids":["a","b","a"],` + ok), testLimits, "youtube_analytics.video_ids[2]", `"a" is listed twice`},
		{"bad video id", yt(`"video_ids":["a b"],` + ok), testLimits, "youtube_analytics.video_ids[0]", "not a video id"},
		{"bad channel", yt(`"channel":"someone",` + ok), testLimits, "youtube_analytics.channel", "neither MINE nor"},
		{"bad chunk", yt(`"video_ids":["a"],"chunk":"hour",` + ok), testLimits, "youtube_analytics.chunk", "unknown chunk"},
		{"bad currency", yt(`"video_ids":["a"],"currency":"usd",` + ok), testLimits, "youtube_analytics.currency", "ISO 4217"},
		{"over the task limit", ytBody, backfill.Limits{Now: testLimits.Now, MaxTasks: 1000}, "youtube_analytics", "the job would create 1460 tasks, over the limit of 1000"},
		{"over the default task limit", yt(`"video_ids":[` + manyIDs(1400) + `],"metrics":["views"],"start":"2024-01-01","end":"2025-12-31"`), testLimits, "youtube_analytics", "over the limit of 1000000"},
		{"host not allowed", hj(`"url":"https://evil.example.net/x"`), testLimits, "http_json.url", "allow-list"},
		{"private address", hj(`"url":"http://127.0.0.1/x"`), backfill.Limits{Settings: httpjson.HostSettings("*")}, "http_json.url", "allow-list"},
		{"relative url", hj(`"url":"/items"`), testLimits, "http_json.url", "not an absolute URL"},
		{"credentials in url", hj(`"url":"https://u:p@api.example.com/x"`), testLimits, "http_json.url", "credentials"},
		{"api key in url", hj(`"url":"https://api.example.com/x?api_key=123"`), testLimits, "http_json.url", "looks like a credential"},
		{"placeholder in host", hj(`"url":"https://{h}.example.com/x","params":{"h":["a"]}`), testLimits, "http_json.url", "host may not contain placeholders"},
		{"placeholder without param", hj(`"url":"https://api.example.com/items/{id}?lang={lang}","params":{"id":["1"]}`), testLimits, "http_json.params", "{lang}"},
		{"param without placeholder", hj(`"url":"https://api.example.com/items/{id}","params":{"id":["1"],"lang":["en"]}`), testLimits, "http_json.params.lang", "no placeholder {lang}"},
		{"empty param list", hj(`"url":"https://api.example.com/items/{id}","params":{"id":[]}`), testLimits, "http_json.params.id", "is empty"},
		{"duplicated param value", hj(`"url":"https://api.example.com/items/{id}","params":{"id":["1","1"]}`), testLimits, "http_json.params.id[1]", "listed twice"},
		{"authorization header", hj(`"url":"https://api.example.com/x","headers":{"authorization":"Bearer abc"}`), testLimits, "http_json.headers.authorization", "credentials"},
		{"api key header", hj(`"url":"https://api.example.com/x","headers":{"X-Api-Key":"abc"}`), testLimits, "http_json.headers.X-Api-Key", "credentials"},
		{"bearer value", hj(`"url":"https://api.example.com/x","headers":{"X-Custom":"Bearer abc"}`), testLimits, "http_json.headers.X-Custom", "looks like a credential"},
		{"jwt value", hj(`"url":"https://api.example.com/x","headers":{"X-Custom":"eyJhbGciOiJIUzI1NiJ9.e30.x"}`), testLimits, "http_json.headers.X-Custom", "looks like a credential"},
		{"bad records path", hj(`"url":"https://api.example.com/x","records_path":"data..items"`), testLimits, "http_json.records_path", "dotted path"},
		{"bad pagination type", hj(`"url":"https://api.example.com/x","pagination":{"type":"scroll"}`), testLimits, "http_json.pagination.type", "unknown pagination type"},
		{"cursor without param", hj(`"url":"https://api.example.com/x","pagination":{"type":"cursor","cursor_path":"meta.next"}`), testLimits, "http_json.pagination.cursor_param", "missing"},
		{"field of another type", hj(`"url":"https://api.example.com/x","pagination":{"type":"next_link","next_path":"links.next","page_param":"p"}`), testLimits, "http_json.pagination.page_param", "not used"},
		{"too many pages", hj(`"url":"https://api.example.com/x","pagination":{"type":"page","page_param":"p","max_pages":1000000}`), testLimits, "http_json.pagination.max_pages", "outside"},
		{"http over the task limit", hj(`"url":"https://api.example.com/{a}/{b}","params":{"a":["1","2","3"],"b":["1","2"]}`), backfill.Limits{Settings: testLimits.Settings, MaxTasks: 5}, "http_json", "the job would create 6 tasks, over the limit of 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := backfill.ParseSpec([]byte(tt.body), tt.lim)
			var fe *backfill.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("ParseSpec(%s) = %v, want a *FieldError", tt.body, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Reason, tt.reason) {
				t.Errorf("ParseSpec(%s) = %q: %q, want %q: ...%q...", tt.body, fe.Field, fe.Reason, tt.field, tt.reason)
			}
		})
	}
}

func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = `"v` + strconv.Itoa(i) + `"`
	}
	return strings.Join(ids, ",")
}

func TestParseSpecNormalizes(t *testing.T) {
	s, err := backfill.ParseSpec([]byte(ytBody), testLimits)
	if err != nil {
		t.Fatalf("ParseSpec(ytBody) = %v", err)
	}
	want := &youtube.YouTubeSpec{VideoIDs: []string{"a", "b"}, Metrics: []string{"likes", "views"}, Dimensions: []string{"day"},
		Start: "2024-01-01", End: "2025-12-30", Chunk: "day", Currency: "USD"}
	if diff := cmp.Diff(want, s.Section); diff != "" {
		t.Errorf("ParseSpec(ytBody).YouTube mismatch (-want +got):\n%s", diff)
	}
	h, err := backfill.ParseSpec([]byte(httpBody), testLimits)
	if err != nil {
		t.Fatalf("ParseSpec(httpBody) = %v", err)
	}
	wantH := &httpjson.HTTPJSONSpec{URL: "https://api.example.com/items/{id}?lang={lang}",
		Params:      map[string][]string{"id": {"1", "2"}, "lang": {"de", "en"}},
		RecordsPath: "data.items",
		Pagination:  &httpjson.PaginationSpec{Type: "cursor", CursorPath: "meta.next", CursorParam: "cursor", MaxPages: 100},
		Headers:     map[string]string{"Accept": "application/json"}}
	if diff := cmp.Diff(wantH, h.Section); diff != "" {
		t.Errorf("ParseSpec(httpBody).HTTPJSON mismatch (-want +got):\n%s", diff)
	}
}

func TestSpecIDStable(t *testing.T) {
	reordered := `{
	  "youtube_analytics": {"end":"2025-12-30", "start":"2024-01-01", "metrics":["likes","views"],
	    "video_ids":["a","b"], "currency":"USD"},
	  "dry_run": true,
	  "source": "youtube_analytics"
	}`
	a := mustParse(t, ytBody)
	b := mustParse(t, reordered)
	if a.ID() != b.ID() {
		t.Errorf("ID() of the same spec reordered = %s and %s, want equal", a.ID(), b.ID())
	}
	if !strings.HasPrefix(a.ID(), "bf-") || len(a.ID()) != 19 {
		t.Errorf("ID() = %q, want bf- and 16 hex digits", a.ID())
	}
	other := mustParse(t, strings.Replace(ytBody, `"2024-01-01"`, `"2024-01-02"`, 1))
	if other.ID() == a.ID() {
		t.Errorf("ID() of a different spec = %s, same as %s", other.ID(), a.ID())
	}

	newRun := mustParse(t, strings.Replace(ytBody, `{"source"`, `{"new_run":true,"source"`, 1))
	if newRun.ID() != a.ID() {
		t.Errorf("ID() with new_run and no nonce = %s, want %s", newRun.ID(), a.ID())
	}
	newRun.RunNonce = "2026-11-22T15:00:00Z"
	first := newRun.ID()
	newRun.RunNonce = "2026-11-22T16:00:00Z"
	if first == a.ID() || first == newRun.ID() {
		t.Errorf("ID() with new_run = %s, %s; want both different from %s and each other", first, newRun.ID(), a.ID())
	}
	if _, err := backfill.ParseSpec([]byte(`{"run_nonce":"x","source":"youtube_analytics"}`), testLimits); err == nil {
		t.Errorf("ParseSpec with run_nonce in the body = nil error, want refused")
	}
}

func mustParse(t *testing.T, body string) *backfill.Spec {
	t.Helper()
	s, err := backfill.ParseSpec([]byte(body), testLimits)
	if err != nil {
		t.Fatalf("ParseSpec(%s) = %v", body, err)
	}
	return s
}
