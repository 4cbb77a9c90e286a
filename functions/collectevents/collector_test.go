package collectevents

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// step is one request of a test case; the steps of a case share one collector, deduper and clock.
type step struct {
	advance     time.Duration // moves the clock before the request
	method      string        // POST when empty
	contentType string
	body        string
	failIDs     []string // event ids whose publish fails during this step
	wantStatus  int
	wantHeader  map[string]string
	want        reply // Reason and Error: substrings
	wantMsgs    []publish.Message
}

// reply is either response body: counts and results, or an error.
type reply struct {
	Response
	Error string `json:"error,omitempty"`
}

// msg is the message the collector should publish for an event.
func msg(data, kind, id string) publish.Message {
	return appMsg(data, kind, event.DefaultApp, id)
}

// appMsg is the message the collector should publish for an event of app.
func appMsg(data, kind, app, id string) publish.Message {
	attrs := map[string]string{"kind": kind, "source": "app", "schema_version": "1", "app": app}
	if id != "" {
		attrs["event_id"] = id
	}
	return publish.Message{Data: []byte(data), Attributes: attrs}
}

const (
	jsonCT   = "application/json"
	ndjsonCT = "application/x-ndjson"

	search1 = `{"id":"s1","kind":"search","query":"red shoes","results_count":12}`
	search2 = `{"id":"s2","kind":"search","query":"blue hats"}`
	view1   = `{"id":"v1","kind":"detail_view","item_id":"sku-9"}`
	noID    = `{"kind":"cart_add","properties":{"sku":"sku-9"}}`
)

const (
	shopX    = `{"app":"shop","id":"x","kind":"search","query":"shoes"}`
	blogX    = `{"app":"blog","id":"x","kind":"search","query":"posts"}`
	defaultX = `{"id":"x","kind":"search","query":"hats"}`
)

// longApp is an app name of n characters.
func longApp(n int) string { return "a" + strings.Repeat("p", n-1) }

// withApp is a search event of an app whose name has n characters.
func withApp(n int) string {
	return `{"app":"` + longApp(n) + `","id":"a","kind":"search","query":"q"}`
}

func accepted(i int, id string) Result { return Result{Index: i, ID: id, Status: StatusAccepted} }

func TestCollector(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		steps  []step
	}{
		{name: "array", steps: []step{{
			contentType: jsonCT, body: "[" + search1 + ",\n " + view1 + "," + noID + "]",
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 3, Results: []Result{
				accepted(0, "s1"), accepted(1, "v1"), accepted(2, ""),
			}}},
			wantMsgs: []publish.Message{msg(search1, "search", "s1"), msg(view1, "detail_view", "v1"), msg(noID, "other", "")},
		}}},
		{name: "single object with charset", steps: []step{{
			contentType: "application/json; charset=utf-8", body: "\n  " + search1 + "\n",
			wantStatus: http.StatusOK,
			want:       reply{Response: Response{Accepted: 1, Results: []Result{accepted(0, "s1")}}},
			wantMsgs:   []publish.Message{msg(search1, "search", "s1")},
		}}},
		{name: "ndjson with a malformed line and blank lines", steps: []step{{
			contentType: ndjsonCT, body: search1 + "\n\n" + `{"kind":"search",` + "\r\n  " + view1 + "  \r\n\n",
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 2, Rejected: 1, Results: []Result{
				accepted(0, "s1"),
				{Index: 1, Status: StatusRejected, Reason: "malformed JSON"},
				accepted(2, "v1"),
			}}},
			wantMsgs: []publish.Message{msg(search1, "search", "s1"), msg(view1, "detail_view", "v1")},
		}}},
		{name: "per-event rejections name the field", steps: []step{{
			contentType: jsonCT,
			body: `[{"id":"a","kind":"search"},{"id":"b","kind":"detail_view"},{"kind":"Search!","query":"x"},` +
				`{"kind":"search","query":"x","querry":"y"},{"kind":"search","query":"x","results_count":"many"},` +
				`{"kind":"search","query":"x","time":"2999-01-01T00:00:00Z"},42,` + search2 + `]`,
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 1, Rejected: 7, Results: []Result{
				{Index: 0, ID: "a", Status: StatusRejected, Field: "query", Reason: "required"},
				{Index: 1, ID: "b", Status: StatusRejected, Field: "item_id", Reason: "required"},
				{Index: 2, Status: StatusRejected, Field: "kind", Reason: "must match"},
				{Index: 3, Status: StatusRejected, Field: "querry", Reason: "unknown field"},
				{Index: 4, Status: StatusRejected, Field: "results_count", Reason: "must be"},
				{Index: 5, Status: StatusRejected, Field: "time", Reason: "in the future"},
				{Index: 6, Status: StatusRejected, Reason: "JSON number"},
				accepted(7, "s2"),
			}}},
			wantMsgs: []publish.Message{msg(search2, "search", "s2")},
		}}},
		{name: "invalid UTF-8 event", steps: []step{{
			contentType: jsonCT, body: `[{"id":"u","kind":"search","query":"caf` + "\xe9" + `"},` + search1 + `]`,
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 1, Rejected: 1, Results: []Result{
				{Index: 0, Status: StatusRejected, Reason: "not valid UTF-8"}, accepted(1, "s1"),
			}}},
			wantMsgs: []publish.Message{msg(search1, "search", "s1")},
		}, {
			contentType: ndjsonCT, body: `{"id":"u","kind":"search","query":"caf` + "\xe9" + `"}`,
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Rejected: 1, Results: []Result{
				{Index: 0, Status: StatusRejected, Reason: "not valid UTF-8"},
			}}},
		}}},
		{name: "duplicate id within a request", steps: []step{{
			contentType: jsonCT, body: "[" + search1 + "," + noID + "," + search1 + "," + noID + "]",
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 3, Duplicates: 1, Results: []Result{
				accepted(0, "s1"), accepted(1, ""),
				{Index: 2, ID: "s1", Status: StatusDuplicate, Reason: "same app and id as event 0"},
				accepted(3, ""),
			}}},
			// Events without an id have no identity to dedup on: both are published.
			wantMsgs: []publish.Message{msg(search1, "search", "s1"), msg(noID, "other", ""), msg(noID, "other", "")},
		}}},
		{name: "rejected first occurrence does not hide a valid repeat", steps: []step{{
			contentType: ndjsonCT, body: `{"id":"s1","kind":"search"}` + "\n" + search1,
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 1, Rejected: 1, Results: []Result{
				{Index: 0, ID: "s1", Status: StatusRejected, Field: "query"}, accepted(1, "s1"),
			}}},
			wantMsgs: []publish.Message{msg(search1, "search", "s1")},
		}}},
		{name: "duplicate id across requests", steps: []step{{
			contentType: jsonCT, body: "[" + search1 + "," + view1 + "]",
			wantStatus: http.StatusOK,
			want:       reply{Response: Response{Accepted: 2, Results: []Result{accepted(0, "s1"), accepted(1, "v1")}}},
			wantMsgs:   []publish.Message{msg(search1, "search", "s1"), msg(view1, "detail_view", "v1")},
		}, {
			advance:     23 * time.Hour,
			contentType: ndjsonCT, body: view1 + "\n" + search2 + "\n" + search1,
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 1, Duplicates: 2, Results: []Result{
				{Index: 0, ID: "v1", Status: StatusDuplicate, Reason: "already received"},
				accepted(1, "s2"),
				{Index: 2, ID: "s1", Status: StatusDuplicate, Reason: "already received"},
			}}},
			wantMsgs: []publish.Message{msg(search2, "search", "s2")},
		}}},
		{name: "expired dedup entry is published again", steps: []step{{
			contentType: jsonCT, body: search1,
			wantStatus: http.StatusOK,
			want:       reply{Response: Response{Accepted: 1, Results: []Result{accepted(0, "s1")}}},
			wantMsgs:   []publish.Message{msg(search1, "search", "s1")},
		}, {
			advance:     24*time.Hour + time.Second,
			contentType: jsonCT, body: search1,
			wantStatus: http.StatusOK,
			want:       reply{Response: Response{Accepted: 1, Results: []Result{accepted(0, "s1")}}},
			wantMsgs:   []publish.Message{msg(search1, "search", "s1")},
		}, {
			// The republish marked it again, from the new time.
			advance:     time.Hour,
			contentType: jsonCT, body: search1,
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Duplicates: 1, Results: []Result{
				{Index: 0, ID: "s1", Status: StatusDuplicate},
			}}},
		}}},
		{name: "publish failure is 503 and the id is not marked seen", steps: []step{{
			contentType: jsonCT, body: "[" + search1 + "," + search2 + "," + `{"kind":"search"}` + "]",
			failIDs:    []string{"s2"},
			wantStatus: http.StatusServiceUnavailable,
			want: reply{Response: Response{Accepted: 1, Rejected: 1, Failed: 1, Results: []Result{
				accepted(0, "s1"),
				{Index: 1, ID: "s2", Status: StatusFailed, Reason: "send the event again"},
				{Index: 2, Status: StatusRejected, Field: "query"},
			}}},
			wantMsgs: []publish.Message{msg(search1, "search", "s1")},
		}, {
			// The app's retry of the whole batch: s2 now goes out, s1 is not published twice.
			contentType: jsonCT, body: "[" + search1 + "," + search2 + "]",
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 1, Duplicates: 1, Results: []Result{
				{Index: 0, ID: "s1", Status: StatusDuplicate}, accepted(1, "s2"),
			}}},
			wantMsgs: []publish.Message{msg(search2, "search", "s2")},
		}}},
		{name: "dedup is per app", steps: []step{{
			// One id in three apps is three events; within one app it is one.
			contentType: jsonCT, body: "[" + shopX + "," + blogX + "," + defaultX + "," + shopX + "]",
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 3, Duplicates: 1, Results: []Result{
				accepted(0, "x"), accepted(1, "x"), accepted(2, "x"),
				{Index: 3, ID: "x", Status: StatusDuplicate, Reason: "same app and id as event 0"},
			}}},
			wantMsgs: []publish.Message{appMsg(shopX, "search", "shop", "x"), appMsg(blogX, "search", "blog", "x"), msg(defaultX, "search", "x")},
		}, {
			// Sent again: each app's x was marked seen, and a fourth app's x is new.
			contentType: ndjsonCT, body: blogX + "\n" + defaultX + "\n" + shopX + "\n" + strings.Replace(shopX, "shop", "news", 1),
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 1, Duplicates: 3, Results: []Result{
				{Index: 0, ID: "x", Status: StatusDuplicate, Reason: "already received"},
				{Index: 1, ID: "x", Status: StatusDuplicate, Reason: "already received"},
				{Index: 2, ID: "x", Status: StatusDuplicate, Reason: "already received"},
				accepted(3, "x"),
			}}},
			wantMsgs: []publish.Message{appMsg(strings.Replace(shopX, "shop", "news", 1), "search", "news", "x")},
		}}},
		{name: "app name at its bound and one past it", steps: []step{{
			contentType: jsonCT, body: "[" + withApp(event.MaxAppLen) + "," + withApp(event.MaxAppLen+1) + "]",
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Accepted: 1, Rejected: 1, Results: []Result{
				accepted(0, "a"), {Index: 1, ID: "a", Status: StatusRejected, Field: "app", Reason: "longer than 63 characters"},
			}}},
			wantMsgs: []publish.Message{appMsg(withApp(event.MaxAppLen), "search", longApp(event.MaxAppLen), "a")},
		}, {
			contentType: jsonCT, body: `{"app":"Shop","id":"b","kind":"search","query":"q"}`,
			wantStatus: http.StatusOK,
			want: reply{Response: Response{Rejected: 1, Results: []Result{
				{Index: 0, ID: "b", Status: StatusRejected, Field: "app", Reason: "must match"},
			}}},
		}}},
		{name: "method not allowed", steps: []step{{
			method: http.MethodGet, wantStatus: http.StatusMethodNotAllowed,
			wantHeader: map[string]string{"Allow": "POST"},
			want:       reply{Error: "method GET not allowed"},
		}}},
		{name: "wrong content type", steps: []step{{
			contentType: "text/csv", body: search1, wantStatus: http.StatusUnsupportedMediaType,
			want: reply{Error: "must be application/json (an array of events or one event; text/plain is read the same) or application/x-ndjson"},
		}, {
			body: search1, wantStatus: http.StatusUnsupportedMediaType, want: reply{Error: `not ""`},
		}}},
		// navigator.sendBeacon sends a string as text/plain;charset=UTF-8: read as JSON.
		{name: "a beacon's text/plain body", steps: []step{{
			contentType: "text/plain;charset=UTF-8", body: "[" + search1 + "," + view1 + "]", wantStatus: http.StatusOK,
			want:     reply{Response: Response{Accepted: 2, Results: []Result{accepted(0, "s1"), accepted(1, "v1")}}},
			wantMsgs: []publish.Message{msg(search1, "search", "s1"), msg(view1, "detail_view", "v1")},
		}}},
		{name: "empty body", steps: []step{{
			contentType: jsonCT, body: "", wantStatus: http.StatusBadRequest, want: reply{Error: "empty body"},
		}, {
			contentType: ndjsonCT, body: "\n \r\n\n", wantStatus: http.StatusBadRequest, want: reply{Error: "empty body"},
		}}},
		{name: "empty array", steps: []step{{
			contentType: jsonCT, body: " [ ] ", wantStatus: http.StatusOK, want: reply{Response: Response{Results: []Result{}}},
		}}},
		{name: "not a JSON array or object", steps: []step{{
			contentType: jsonCT, body: "  \"search\"", wantStatus: http.StatusBadRequest,
			want: reply{Error: `found '"' at byte 2`},
		}, {
			contentType: jsonCT, body: "[" + search1 + " " + search2 + "]", wantStatus: http.StatusBadRequest,
			want: reply{Error: "expected comma after array element at byte 68"},
		}, {
			contentType: jsonCT, body: "[" + search1 + ",", wantStatus: http.StatusBadRequest,
			want: reply{Error: "ends early at byte 68"},
		}, {
			contentType: jsonCT, body: search1 + "\n" + search2, wantStatus: http.StatusBadRequest,
			want: reply{Error: "unexpected data at byte 67"},
		}}},
		{name: "too many events", limits: Limits{MaxEvents: 2}, steps: []step{{
			contentType: jsonCT, body: "[" + search1 + "," + search2 + "," + view1 + "]",
			wantStatus: http.StatusRequestEntityTooLarge, want: reply{Error: "more than 2 events"},
		}, {
			contentType: ndjsonCT, body: search1 + "\n" + search2 + "\n\n" + view1,
			wantStatus: http.StatusRequestEntityTooLarge, want: reply{Error: "more than 2 events"},
		}, {
			contentType: ndjsonCT, body: search1 + "\n\n" + search2 + "\n",
			wantStatus: http.StatusOK,
			want:       reply{Response: Response{Accepted: 2, Results: []Result{accepted(0, "s1"), accepted(1, "s2")}}},
			wantMsgs:   []publish.Message{msg(search1, "search", "s1"), msg(search2, "search", "s2")},
		}}},
		{name: "over-size body", limits: Limits{MaxBodyBytes: 100}, steps: []step{{
			contentType: jsonCT, body: "[" + search1 + "," + search2 + "]",
			wantStatus: http.StatusRequestEntityTooLarge, want: reply{Error: "over the limit of 100 bytes"},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			pub := &recordingPublisher{}
			logger, logs := functest.Logger()
			dedup := NewFirestoreDeduper(newFirestore(t), DefaultDedupCollection, DefaultDedupTTL)
			c := NewCollector(pub, dedup, func() time.Time { return clock }, logger, tt.limits)
			for i, st := range tt.steps {
				clock = clock.Add(st.advance)
				pub.fail = map[string]bool{}
				for _, id := range st.failIDs {
					pub.fail[id] = true
				}
				method := st.method
				if method == "" {
					method = http.MethodPost
				}
				req := httptest.NewRequest(method, "/", strings.NewReader(st.body))
				if st.contentType != "" {
					req.Header.Set("Content-Type", st.contentType)
				}
				rec := httptest.NewRecorder()
				c.ServeHTTP(rec, req)

				if rec.Code != st.wantStatus {
					t.Errorf("step %d: status = %d, want %d; body %s", i, rec.Code, st.wantStatus, rec.Body)
				}
				for k, v := range st.wantHeader {
					if got := rec.Header().Get(k); got != v {
						t.Errorf("step %d: header %s = %q, want %q", i, k, got, v)
					}
				}
				var got reply
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatalf("step %d: decoding response %q: %v", i, rec.Body, err)
				}
				if diff := cmp.Diff(st.want, matchReasons(got, st.want)); diff != "" {
					t.Errorf("step %d: response mismatch (-want +got):\n%s", i, diff)
				}
				if diff := cmp.Diff(st.wantMsgs, pub.take()); diff != "" {
					t.Errorf("step %d: published messages mismatch (-want +got):\n%s", i, diff)
				}
			}
			if n, want := strings.Count(logs.String(), `"message":"collected events"`), len(tt.steps); n != want {
				t.Errorf("%d summary log lines, want %d (one per request):\n%s", n, want, logs)
			}
		})
	}
}

// matchReasons replaces in got each reason (and the error) that contains the wanted text by
// that text, and blanks the reasons the test does not check, so that cmp.Diff compares the rest
// exactly.
func matchReasons(got, want reply) reply {
	if want.Error != "" && strings.Contains(got.Error, want.Error) {
		got.Error = want.Error
	}
	if got.Results == nil || len(got.Results) != len(want.Results) {
		return got
	}
	results := make([]Result, len(got.Results))
	copy(results, got.Results)
	for i, w := range want.Results {
		if w.Reason == "" || strings.Contains(results[i].Reason, w.Reason) {
			results[i].Reason = w.Reason
		}
	}
	got.Results = results
	return got
}
