package loadevents

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
)

const project = "loader-test"

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// env is a loader writing to a fresh local BigQuery, served over HTTP as a CloudEvent function.
type env struct {
	bq      *bqemulator.Server
	client  *bigquery.Client
	dataset string
	url     string
	loader  *Loader
}

func newEnv(t *testing.T, schema warehouse.SchemaSource) *env {
	t.Helper()
	ctx := context.Background()
	srv, err := bqemulator.NewServer(bqemulator.WithProject(project))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	t.Setenv(warehouse.EmulatorHostEnv, srv.Addr())
	c, err := bigquery.NewClient(ctx, project, warehouse.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e := &env{bq: srv, client: c, dataset: "events"}
	if err := warehouse.EnsureDataset(ctx, c, e.dataset); err != nil {
		t.Fatal(err)
	}
	if schema == nil {
		schema = schemas.Table
	}
	w, err := warehouse.New(ctx, project, e.dataset, schema, nil, warehouse.WriteClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	e.loader = NewLoader(w, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	p, err := cloudevents.NewHTTP()
	if err != nil {
		t.Fatal(err)
	}
	h, err := cloudevents.NewHTTPReceiveHandler(ctx, p, func(ctx context.Context, ev cloudevents.Event) error {
		err := e.loader.Handle(ctx, ev)
		if err != nil {
			t.Logf("LoadEvents(%s) = %v", ev.ID(), err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	e.url = hs.URL
	return e
}

// deliver posts a message as Eventarc does (a binary-mode CloudEvent) and returns the status.
func (e *env) deliver(t *testing.T, id string, data []byte, attrs map[string]string) int {
	t.Helper()
	body := pushdelivery.PushBody{
		Message:      pushdelivery.PushMessage{Data: data, Attributes: attrs, MessageID: id, PublishTime: now.Add(-time.Second).Format(time.RFC3339Nano)},
		Subscription: "projects/" + project + "/subscriptions/events-loader",
	}
	req, err := pushdelivery.BinaryCloudEventRequest(context.Background(), e.url, "projects/"+project+"/topics/events", body, "")
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (e *env) query(t *testing.T, sql string) []map[string]any {
	t.Helper()
	rows, err := e.bq.Query(context.Background(), strings.ReplaceAll(sql, "DS", project+"."+e.dataset))
	if err != nil {
		t.Fatalf("query %s: %v", sql, err)
	}
	return rows
}

func (e *env) count(t *testing.T, table string) int64 {
	t.Helper()
	rows := e.query(t, "SELECT COUNT(*) AS n FROM `DS."+table+"`")
	return rows[0]["n"].(int64)
}

const tweet = `{"data":{"id":"1377650090978992134","text":"hi #go","author_id":"9","created_at":"2021-04-01T15:52:31.000Z","lang":"en","entities":{"hashtags":[{"tag":"go"}]}},"includes":{"users":[{"id":"9","username":"gopher"}]},"matching_rules":[{"id":1377649934414049282,"tag":null}]}`

func TestLoadsEachKindToItsTable(t *testing.T) {
	e := newEnv(t, nil)
	msgs := []struct{ id, data string }{
		{"m1", tweet},
		{"m2", `{"delete":{"status":{"id":1377650090978992134,"id_str":"1377650090978992134","user_id":9,"user_id_str":"9"},"timestamp_ms":"1617292351000"}}`},
		{"m3", `{"id":"e1","kind":"search","query":"red shoes","results_count":3,"user_id":"u1"}`},
		{"m4", `{"kind":"detail_view","item_id":"sku-9"}`},
	}
	for _, m := range msgs {
		if code := e.deliver(t, m.id, []byte(m.data), map[string]string{"source": "test"}); code/100 != 2 {
			t.Fatalf("deliver(%s) = %d, want 2xx", m.id, code)
		}
	}
	got := e.query(t, "SELECT tweet_id, kind, author_handle, hashtags, matching_rules, message_id, source FROM `DS.tweets`")
	want := []map[string]any{{"tweet_id": "1377650090978992134", "kind": "tweet", "author_handle": "gopher", "hashtags": []any{"go"},
		"matching_rules": []any{map[string]any{"id": "1377649934414049282", "tag": nil}}, "message_id": "m1", "source": "test"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tweets mismatch (-want +got):\n%s", diff)
	}
	got = e.query(t, "SELECT kind, name, event_id, query, results_count FROM `DS.app_events` ORDER BY kind DESC")
	want = []map[string]any{
		{"kind": "search", "name": "search", "event_id": "e1", "query": "red shoes", "results_count": int64(3)},
		{"kind": "detail_view", "name": "detail_view", "event_id": "msg:m4", "query": nil, "results_count": nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("app_events mismatch (-want +got):\n%s", diff)
	}
	// The delete notice hides the tweet from the current-tweets view.
	if n := e.count(t, "stream_events"); n != 1 {
		t.Errorf("stream_events rows = %d, want 1", n)
	}
	if n := e.count(t, "tweets_current"); n != 0 {
		t.Errorf("tweets_current rows = %d, want 0 after the delete notice", n)
	}
	if n := e.count(t, "dead_letters"); n != 0 {
		t.Errorf("dead_letters rows = %d, want 0", n)
	}
}

// TestBadInputIsDeadLettered: every message that can never load is acknowledged and kept, whole,
// with its reason.
func TestBadInputIsDeadLettered(t *testing.T) {
	e := newEnv(t, nil)
	big := []byte(`{"kind":"search","query":"` + strings.Repeat("x", 10<<20) + `"}`)
	tests := []struct {
		id         string
		data       []byte
		wantReason string
	}{
		{"bad-json", []byte(`{"data":{"id":"1",`), "not JSON"},
		{"unknown", []byte(`{"hello":"world"}`), "unknown kind"},
		{"utf8", []byte("{\"kind\":\"search\",\"query\":\"\xc3\x28\"}"), "not valid UTF-8"},
		{"missing", []byte(`{"kind":"detail_view"}`), "item_id: required"},
		{"empty", []byte{}, "empty message data"},
		{"huge", big, "over the limit"},
	}
	for _, tt := range tests {
		if code := e.deliver(t, tt.id, tt.data, map[string]string{"kind": "x"}); code/100 != 2 {
			t.Errorf("deliver(%s) = %d, want 2xx (acknowledged)", tt.id, code)
		}
	}
	rows := e.query(t, "SELECT message_id, stage, reason, data_bytes, BYTE_LENGTH(data) AS kept FROM `DS.dead_letters`")
	byID := map[string]map[string]any{}
	for _, r := range rows {
		byID[r["message_id"].(string)] = r
	}
	for _, tt := range tests {
		r, ok := byID[tt.id]
		if !ok {
			t.Errorf("message %s: no dead letter", tt.id)
			continue
		}
		if !strings.Contains(r["reason"].(string), tt.wantReason) || r["stage"] != "decode" {
			t.Errorf("message %s: dead letter %v, want stage decode and a reason containing %q", tt.id, r, tt.wantReason)
		}
		if r["data_bytes"] != int64(len(tt.data)) {
			t.Errorf("message %s: data_bytes = %v, want %d", tt.id, r["data_bytes"], len(tt.data))
		}
	}
	if got := byID["bad-json"]["kept"]; got != int64(len(`{"data":{"id":"1",`)) {
		t.Errorf("bad-json: kept %v bytes of data, want all", got)
	}
}

// TestCloudEventModes: structured mode, binary mode, and a CloudEvent whose data is not JSON.
func TestCloudEventModes(t *testing.T) {
	e := newEnv(t, nil)
	data, _ := json.Marshal(pushdelivery.PushBody{Message: pushdelivery.PushMessage{
		Data: []byte(`{"kind":"search","query":"q"}`), MessageID: "structured-1", PublishTime: now.Format(time.RFC3339Nano),
	}, Subscription: "projects/p/subscriptions/s"})
	structured := fmt.Sprintf(`{"specversion":"1.0","type":"google.cloud.pubsub.topic.v1.messagePublished","source":"//pubsub.googleapis.com/projects/p/topics/t","id":"structured-1","time":%q,"datacontenttype":"application/json","data":%s}`, now.Format(time.RFC3339), data)
	req, _ := http.NewRequest("POST", e.url, strings.NewReader(structured))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	if code := do(t, req); code/100 != 2 {
		t.Errorf("structured mode = %d, want 2xx", code)
	}
	req, _ = http.NewRequest("POST", e.url, strings.NewReader("this is not json"))
	req.Header.Set("Content-Type", "text/plain")
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-type": "google.cloud.pubsub.topic.v1.messagePublished", "ce-source": "//x", "ce-id": "not-json-1"} {
		req.Header.Set(k, v)
	}
	if code := do(t, req); code/100 != 2 {
		t.Errorf("non-JSON data = %d, want 2xx (dead-lettered)", code)
	}
	got := e.query(t, "SELECT message_id FROM `DS.app_events`")
	if diff := cmp.Diff([]map[string]any{{"message_id": "structured-1"}}, got); diff != "" {
		t.Errorf("app_events mismatch (-want +got):\n%s", diff)
	}
	got = e.query(t, "SELECT message_id FROM `DS.dead_letters`")
	if len(got) != 1 || got[0]["message_id"] != "not-json-1" {
		t.Errorf("dead_letters = %v, want the non-JSON event kept under its CloudEvent id", got)
	}
}

func TestDuplicateDeliveryIsOneRowInTheDedupView(t *testing.T) {
	e := newEnv(t, nil)
	for range 2 {
		if code := e.deliver(t, "dup-1", []byte(tweet), nil); code/100 != 2 {
			t.Fatalf("deliver = %d", code)
		}
	}
	if n := e.count(t, "tweets"); n != 2 {
		t.Errorf("tweets rows = %d, want 2 (at-least-once)", n)
	}
	if n := e.count(t, "tweets_dedup"); n != 1 {
		t.Errorf("tweets_dedup rows = %d, want 1", n)
	}
}

// TestTransientErrorIsRetried: an append failure that may pass answers non-2xx, so Pub/Sub
// redelivers, and the redelivery loads the row.
func TestTransientErrorIsRetried(t *testing.T) {
	e := newEnv(t, nil)
	if code := e.deliver(t, "warm", []byte(tweet), nil); code/100 != 2 {
		t.Fatalf("deliver = %d", code)
	}
	// More failures than managedwriter's own retries absorb.
	e.bq.SetFault("AppendRowsResponse", status.Error(codes.Internal, "injected backend error"), 50)
	if code := e.deliver(t, "t-1", []byte(tweet), nil); code/100 == 2 {
		t.Errorf("deliver during a BigQuery outage = %d, want non-2xx", code)
	}
	e.bq.ClearFault("AppendRowsResponse")
	if code := e.deliver(t, "t-1", []byte(tweet), nil); code/100 != 2 {
		t.Errorf("redelivery = %d, want 2xx", code)
	}
	got := e.query(t, "SELECT message_id FROM `DS.tweets` ORDER BY message_id")
	if diff := cmp.Diff([]map[string]any{{"message_id": "t-1"}, {"message_id": "warm"}}, got); diff != "" {
		t.Errorf("tweets mismatch (-want +got):\n%s", diff)
	}
	if n := e.count(t, "dead_letters"); n != 0 {
		t.Errorf("dead_letters = %d, want 0: a transient error is never dead-lettered", n)
	}
}

// TestRowErrorIsDeadLettered: a row BigQuery refuses (here the deployed table demands a column
// the row lacks) is dead-lettered with BigQuery's reason.
func TestRowErrorIsDeadLettered(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tbl := e.client.Dataset(e.dataset).Table("app_events")
	md, err := tbl.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	schema := md.Schema
	for _, f := range schema {
		if f.Name == "user_id" {
			f.Required = true
		}
	}
	if err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: schema}); err != nil {
		t.Fatal(err)
	}
	if code := e.deliver(t, "anon", []byte(`{"kind":"search","query":"q"}`), nil); code/100 != 2 {
		t.Fatalf("deliver = %d, want 2xx", code)
	}
	got := e.query(t, "SELECT message_id, stage, kind FROM `DS.dead_letters`")
	if diff := cmp.Diff([]map[string]any{{"message_id": "anon", "stage": "append", "kind": "search"}}, got); diff != "" {
		t.Errorf("dead_letters mismatch (-want +got):\n%s", diff)
	}
	reason := e.query(t, "SELECT reason FROM `DS.dead_letters`")[0]["reason"].(string)
	if !strings.Contains(reason, "user_id") {
		t.Errorf("reason = %q, want it to name user_id", reason)
	}
}

func TestConcurrentDeliveries(t *testing.T) {
	e := newEnv(t, nil)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := fmt.Sprintf(`{"id":"e%d","kind":"search","query":"q%d"}`, i, i)
			if code := e.deliver(t, fmt.Sprintf("c%d", i), []byte(data), nil); code/100 != 2 {
				errs <- fmt.Sprintf("c%d: %d", i, code)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := e.count(t, "app_events"); got != n {
		t.Errorf("app_events rows = %d, want %d", got, n)
	}
}

// TestAppEventsDedupIsPerApp: two apps' events with one id are two events in app_events_dedup;
// a resend within an app is one; a row loaded before apps existed (no app) is the default app's.
func TestAppEventsDedupIsPerApp(t *testing.T) {
	e := newEnv(t, nil)
	msgs := []struct {
		id, data string
		attrs    map[string]string
	}{
		{"m1", `{"app":"shop","id":"e1","kind":"search","query":"shoes"}`, nil},
		{"m2", `{"app":"blog","id":"e1","kind":"search","query":"posts"}`, nil},
		{"m3", `{"id":"e1","kind":"search","query":"hats"}`, map[string]string{"app": "news"}},
		{"m4", `{"app":"shop","id":"e1","kind":"search","query":"shoes"}`, nil}, // the shop's resend
		{"m5", `{"id":"e2","kind":"search","query":"new"}`, nil},                // the default app's e2
	}
	for _, m := range msgs {
		if code := e.deliver(t, m.id, []byte(m.data), m.attrs); code/100 != 2 {
			t.Fatalf("deliver(%s) = %d, want 2xx", m.id, code)
		}
	}
	// The default app's e2 again, as loaded before apps existed: the same event.
	old := map[string]any{"event_time": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "event_id": "e2", "kind": "search",
		"query": "old", "message_id": "m0", "publish_time": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "source": "app",
		"ingested_at": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "schema_version": "1"}
	if err := e.bq.InsertRows(context.Background(), project, e.dataset, "app_events", []map[string]any{old}); err != nil {
		t.Fatal(err)
	}
	got := e.query(t, "SELECT app, event_id, message_id FROM `DS.app_events_dedup` ORDER BY message_id")
	want := []map[string]any{
		{"app": nil, "event_id": "e2", "message_id": "m0"},
		{"app": "shop", "event_id": "e1", "message_id": "m1"},
		{"app": "blog", "event_id": "e1", "message_id": "m2"},
		{"app": "news", "event_id": "e1", "message_id": "m3"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("app_events_dedup mismatch (-want +got):\n%s", diff)
	}
}
