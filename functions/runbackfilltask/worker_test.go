package runbackfilltask

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson/httpjsonfake"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
)

// twoVideosThreeDays plans 6 one-day tasks: task i is video i/3 on day 2024-01-0(i%3+1).
const twoVideosThreeDays = `{"source":"youtube_analytics","youtube_analytics":{
	"video_ids":["vid00000001","vid00000002"],"metrics":["views","likes"],"start":"2024-01-01","end":"2024-01-03"}}`

// ytRow is the backfill_rows row of one (video, day) of a task querying metrics.
func ytRow(t *testing.T, task backfill.TaskSpec, index int64, video, day string, metrics ...string) map[string]any {
	t.Helper()
	record := map[string]any{"day": day}
	for _, m := range metrics {
		record[m] = youtubefake.YouTubeValue(video, day, m)
	}
	b, err := json.Marshal(record)
	if err != nil {
		t.Fatal(err)
	}
	d, err := civil.ParseDate(day)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"job_id": task.JobID, "shard": task.Shard, "row_index": index, "source": "youtube_analytics",
		"fetched_at": fetchedAt, "video_id": video, "day": d, "record": string(b)}
}

func TestSuccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newJob(t, twoVideosThreeDays)
	task := p.Task(4)
	if task.Shard != "video=vid00000002/2024-01-02..2024-01-02" {
		t.Fatalf("Task(4).Shard = %q, want video=vid00000002/2024-01-02..2024-01-02", task.Shard)
	}

	got := e.deliver(t, task, attemptOf{})
	if diff := cmp.Diff(response{status: 200, answer: Answer{Outcome: "succeeded", Rows: 1}}, got, cmp.AllowUnexported(response{})); diff != "" {
		t.Errorf("deliver() mismatch (-want +got):\n%s", diff)
	}

	pages, err := e.store.LoadRaw(context.Background(), p.JobID, task.Shard)
	if err != nil {
		t.Fatalf("LoadRaw() = %v", err)
	}
	if len(pages) != 1 {
		t.Fatalf("LoadRaw() = %d pages, want 1", len(pages))
	}
	var raw struct {
		Kind string  `json:"kind"`
		Rows [][]any `json:"rows"`
	}
	if err := json.Unmarshal(pages[0], &raw); err != nil {
		t.Fatalf("raw page is not JSON: %v", err)
	}
	wantRaw := [][]any{{"2024-01-02",
		float64(youtubefake.YouTubeValue("vid00000002", "2024-01-02", "likes").(int64)),
		float64(youtubefake.YouTubeValue("vid00000002", "2024-01-02", "views").(int64))}}
	if diff := cmp.Diff(wantRaw, raw.Rows); diff != "" || raw.Kind != "youtubeAnalytics#resultTable" {
		t.Errorf("raw page = kind %q, rows mismatch (-want +got):\n%s", raw.Kind, diff)
	}

	want := []map[string]any{ytRow(t, task, 0, "vid00000002", "2024-01-02", "likes", "views")}
	if diff := cmp.Diff(want, e.rows(t, backfill.TableRows)); diff != "" {
		t.Errorf("backfill_rows mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 6, Succeeded: 1, Rows: 1, APICalls: 1}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
}

// A task delivered three times (twice at once, then again) appends its rows three times under
// the same keys and is counted once.
func TestDuplicateDeliveryCountedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newJob(t, `{"source":"youtube_analytics","youtube_analytics":{
		"video_ids":["vid00000001"],"metrics":["views"],"start":"2024-01-01","end":"2024-01-07","chunk":"week"}}`)
	if p.Tasks != 1 {
		t.Fatalf("plan has %d tasks, want 1", p.Tasks)
	}
	task := p.Task(0)

	var wg sync.WaitGroup
	answers := make([]response, 3)
	for i := range 2 {
		wg.Go(func() { answers[i] = e.deliver(t, task, attemptOf{}) })
	}
	wg.Wait()
	answers[2] = e.deliver(t, task, attemptOf{})
	firsts := 0
	for i, a := range answers {
		if a.status != 200 || a.answer.Outcome != "succeeded" || a.answer.Rows != 7 {
			t.Errorf("delivery %d = %+v, want 200 succeeded with 7 rows", i, a)
		}
		if !a.answer.Duplicate {
			firsts++
		}
	}
	if firsts != 1 {
		t.Errorf("%d deliveries recorded the outcome, want exactly 1", firsts)
	}

	var want []map[string]any
	for d := 1; d <= 7; d++ {
		want = append(want, ytRow(t, task, int64(d-1), "vid00000001", fmt.Sprintf("2024-01-%02d", d), "views"))
	}
	if diff := cmp.Diff(want, e.rows(t, "backfill_rows_dedup")); diff != "" {
		t.Errorf("backfill_rows_dedup mismatch (-want +got):\n%s", diff)
	}
	if n := len(e.rows(t, backfill.TableRows)); n != 21 {
		t.Errorf("backfill_rows has %d rows, want 21 (7 per delivery)", n)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 1, Succeeded: 1, Rows: 7, APICalls: 1}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
	if n := e.yt.Stats().Calls; n != 3 {
		t.Errorf("API calls = %d, want 3 (one per delivery)", n)
	}
}

// Transient API failures are answered outside 2xx (passing on Retry-After) and recorded as
// retrying, until the last attempt, which records the failure and answers 200.
func TestTransientAPIFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		ytOpts         []sourcestest.Option
		status         int
		reason         string
		attempt        attemptOf
		wantStatus     int
		wantRetryAfter string
		wantOutcome    string
		wantReason     string // prefix
		wantCounts     backfill.Counts
		// retried: the next delivery succeeds.
		retried        bool
		wantCountsThen backfill.Counts
	}{
		{
			name: "503", status: 503, reason: "backendError",
			wantStatus: 503, wantOutcome: "retrying", wantReason: "transient http 503 (backendError)",
			wantCounts: backfill.Counts{Planned: 6, Retrying: 1, APICalls: 1},
			retried:    true, wantCountsThen: backfill.Counts{Planned: 6, Succeeded: 1, Rows: 1, APICalls: 2},
		},
		{
			name: "429 with Retry-After", ytOpts: []sourcestest.Option{sourcestest.With429Rate(0, 7*time.Second)},
			status: 429, reason: "rateLimitExceeded",
			wantStatus: 429, wantRetryAfter: "7", wantOutcome: "retrying", wantReason: "transient http 429 (rateLimitExceeded) retry after 7s",
			wantCounts: backfill.Counts{Planned: 6, Retrying: 1, APICalls: 1},
			retried:    true, wantCountsThen: backfill.Counts{Planned: 6, Succeeded: 1, Rows: 1, APICalls: 2},
		},
		{
			name: "403 quota exceeded", status: 403, reason: "quotaExceeded",
			wantStatus: 503, wantOutcome: "retrying", wantReason: "transient http 403 (quotaExceeded)",
			wantCounts: backfill.Counts{Planned: 6, Retrying: 1, APICalls: 1},
		},
		{
			name: "503 on the last attempt", status: 503, reason: "backendError", attempt: attemptOf{retryCount: 99, previous: "503"},
			wantStatus: 200, wantOutcome: "failed", wantReason: "gave up after 100 attempts: transient http 503 (backendError)",
			wantCounts: backfill.Counts{Planned: 6, Failed: 1, APICalls: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withYouTube(tt.ytOpts...))
			p := e.newJob(t, twoVideosThreeDays)
			e.yt.FailNext(1, tt.status, tt.reason)
			got := e.deliver(t, p.Task(0), tt.attempt)
			if got.status != tt.wantStatus || got.retryAfter != tt.wantRetryAfter || got.answer.Outcome != tt.wantOutcome ||
				!strings.HasPrefix(got.answer.Reason, tt.wantReason) {
				t.Errorf("deliver() = %d Retry-After %q %+v, want %d Retry-After %q %s with reason %q...",
					got.status, got.retryAfter, got.answer, tt.wantStatus, tt.wantRetryAfter, tt.wantOutcome, tt.wantReason)
			}
			if diff := cmp.Diff(tt.wantCounts, e.counts(t, p.JobID)); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
			if !tt.retried {
				return
			}
			if got := e.deliver(t, p.Task(0), attemptOf{retryCount: 1, previous: fmt.Sprint(got.status)}); got.status != 200 || got.answer.Outcome != "succeeded" {
				t.Errorf("redelivery = %d %+v, want 200 succeeded", got.status, got.answer)
			}
			if diff := cmp.Diff(tt.wantCountsThen, e.counts(t, p.JobID)); diff != "" {
				t.Errorf("counts after the redelivery mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// A metric YouTube does not know (valid in the spec's vocabulary, unknown to the API) fails
// the task with Google's message, answered 200 so it is not retried.
func TestBadRequestFailsWithGooglesMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newJob(t, `{"source":"youtube_analytics","youtube_analytics":{
		"video_ids":["vid00000001"],"metrics":["engagedViews"],"start":"2024-01-01","end":"2024-01-01"}}`)
	got := e.deliver(t, p.Task(0), attemptOf{})
	const msg = "Unknown identifier (engagedViews) given in field parameters.metrics."
	if got.status != 200 || got.answer.Outcome != "failed" || !strings.Contains(got.answer.Reason, msg) ||
		!strings.HasPrefix(got.answer.Reason, "permanent http 400 (badRequest)") {
		t.Errorf("deliver() = %d %+v, want 200 failed, permanent http 400 (badRequest) with %q", got.status, got.answer, msg)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 1, Failed: 1, APICalls: 1}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{got.answer.Reason: 1}, e.failures(t, p.JobID)); diff != "" {
		t.Errorf("failures mismatch (-want +got):\n%s", diff)
	}
}

// A revoked refresh token blocks the job; the job's later tasks fail without calling the API
// or the token endpoint.
func TestRevokedGrantBlocksJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newJob(t, twoVideosThreeDays)
	e.yt.RevokeRefreshToken()

	got := e.deliver(t, p.Task(0), attemptOf{})
	if got.status != 200 || got.answer.Outcome != "blocked" || !strings.Contains(got.answer.Reason, "invalid_grant") {
		t.Errorf("deliver(task 0) = %d %+v, want 200 blocked naming invalid_grant", got.status, got.answer)
	}
	job, err := e.store.GetJob(context.Background(), p.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if job.State != backfill.JobBlocked || job.Blocked != got.answer.Reason {
		t.Errorf("job state = %q blocked %q, want %q blocked %q", job.State, job.Blocked, backfill.JobBlocked, got.answer.Reason)
	}
	before := e.yt.Stats()
	if before.Calls != 0 || before.TokenRequests != 1 {
		t.Errorf("before: %d API calls, %d token requests; want 0 and 1", before.Calls, before.TokenRequests)
	}

	for i := 1; i < 3; i++ {
		got := e.deliver(t, p.Task(i), attemptOf{})
		if want := "job blocked: " + job.Blocked; got.status != 200 || got.answer.Outcome != "failed" || got.answer.Reason != want {
			t.Errorf("deliver(task %d) = %d %+v, want 200 failed %q", i, got.status, got.answer, want)
		}
	}
	if diff := cmp.Diff(before, e.yt.Stats()); diff != "" {
		t.Errorf("the blocked job's tasks reached the API (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"job blocked: " + job.Blocked: 3}, e.failures(t, p.JobID)); diff != "" {
		t.Errorf("failures mismatch (-want +got):\n%s", diff)
	}
}

func TestCancelledJobMakesNoAPICall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newJob(t, twoVideosThreeDays)
	if err := e.store.Cancel(context.Background(), p.JobID); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if got := e.deliver(t, p.Task(i), attemptOf{}); got.status != 200 || got.answer.Outcome != "cancelled" {
			t.Errorf("deliver(task %d) = %d %+v, want 200 cancelled", i, got.status, got.answer)
		}
	}
	if st := e.yt.Stats(); st.Calls != 0 || st.TokenRequests != 0 {
		t.Errorf("a cancelled job made %d API calls and %d token requests, want none", st.Calls, st.TokenRequests)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 6, Cancelled: 2}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
}

// A body that names a task is recorded as failed; one that does not is logged at ERROR, whole.
// Both are answered 200: a redelivery would not parse either.
func TestMalformedBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newJob(t, twoVideosThreeDays)
	tests := []struct {
		name        string
		body        string
		wantOutcome string
		wantReason  string // prefix
	}{
		{"not JSON", `{"job_id": "bf-`, "dropped", "malformed task: the body is not a task"},
		{"no index", `{"job_id":"` + p.JobID + `","shard":"x"}`, "dropped", "malformed task: the body does not name a job_id, a shard and an index"},
		{"unknown job", `{"job_id":"bf-0000000000000000","shard":"x","index":1,"source":"http_json","http_json":{"URL":"http://127.0.0.1/"}}`,
			"dropped", "backfill job bf-0000000000000000 does not exist"},
		{"wrong type", `{"job_id":"` + p.JobID + `","shard":"video=vid00000001/2024-01-02..2024-01-02","index":1,"source":"youtube_analytics","youtube":"views"}`,
			"failed", "malformed task: decoding the task: json: cannot unmarshal"},
		{"unknown source", `{"job_id":"` + p.JobID + `","shard":"s","index":5,"source":"ftp"}`,
			"failed", `malformed task: unknown source "ftp"`},
		{"source without its query", `{"job_id":"` + p.JobID + `","shard":"s","index":4,"source":"youtube_analytics"}`,
			"failed", "malformed task: a youtube_analytics task needs a youtube query and nothing else"},
	}
	for _, tt := range tests {
		got := e.deliver(t, []byte(tt.body), attemptOf{})
		if got.status != 200 || got.answer.Outcome != tt.wantOutcome || !strings.HasPrefix(got.answer.Reason, tt.wantReason) {
			t.Errorf("%s: deliver(%s) = %d %+v, want 200 %s %q...", tt.name, tt.body, got.status, got.answer, tt.wantOutcome, tt.wantReason)
		}
		if tt.wantOutcome != "dropped" {
			continue
		}
		logged := false
		for _, line := range functest.LogLines(t, e.logs.String()) {
			if line["severity"] == "ERROR" && line["body"] == tt.body && line["reason"] == got.answer.Reason {
				logged = true
			}
		}
		if !logged {
			t.Errorf("%s: no ERROR log line with the body %s and the reason; logs:\n%s", tt.name, tt.body, e.logs)
		}
	}
	if c := e.counts(t, p.JobID); c.Failed != 3 || c.APICalls != 0 {
		t.Errorf("counts = %+v, want 3 failed and no API calls", c)
	}
	if n := e.yt.Stats().Calls; n != 0 {
		t.Errorf("API calls = %d, want 0", n)
	}
}

// Access tokens living 1 s, with the clock moving 700 ms per task: a token is never used past
// its expiry (the client refreshes ahead of it), so no request is refused and no task fails.
func TestShortLivedTokens(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC))
	e := newEnv(t, withClock(clk.Now), withYouTube(sourcestest.WithTokenTTL(time.Second)))
	p := e.newJob(t, `{"source":"youtube_analytics","youtube_analytics":{
		"video_ids":["vid00000001","vid00000002"],"metrics":["views"],"start":"2024-01-01","end":"2024-01-10"}}`)
	for i := range p.Tasks {
		if got := e.deliver(t, p.Task(i), attemptOf{}); got.status != 200 || got.answer.Outcome != "succeeded" {
			t.Errorf("deliver(task %d) = %d %+v, want 200 succeeded", i, got.status, got.answer)
		}
		clk.Advance(700 * time.Millisecond)
	}
	st := e.yt.Stats()
	if st.ByStatus[401] != 0 || st.ByStatus[200] != p.Tasks {
		t.Errorf("API answers = %v, want %d × 200 and no 401", st.ByStatus, p.Tasks)
	}
	if st.TokenRefreshes < p.Tasks/2 {
		t.Errorf("token refreshes = %d, want at least %d over %d s of 1 s tokens", st.TokenRefreshes, p.Tasks/2, p.Tasks*7/10)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 20, Succeeded: 20, Rows: 20, APICalls: 20}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
}

// A BigQuery outage answers 503 and leaves the shard retrying; the redelivery succeeds.
func TestBigQueryTransientFault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newJob(t, twoVideosThreeDays)
	task := p.Task(0)
	// More failures than managedwriter's own retries absorb.
	e.bq.SetFault("AppendRowsResponse", status.Error(codes.Unavailable, "injected outage"), 50)
	got := e.deliver(t, task, attemptOf{})
	if got.status != 503 || got.answer.Outcome != "retrying" || !strings.Contains(got.answer.Reason, "injected outage") {
		t.Errorf("deliver() during the outage = %d %+v, want 503 retrying with the injected error", got.status, got.answer)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 6, Retrying: 1, APICalls: 1}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts during the outage mismatch (-want +got):\n%s", diff)
	}
	e.bq.ClearFault("AppendRowsResponse")
	if got := e.deliver(t, task, attemptOf{retryCount: 1, previous: "503"}); got.status != 200 || got.answer.Outcome != "succeeded" {
		t.Errorf("redelivery = %d %+v, want 200 succeeded", got.status, got.answer)
	}
	want := []map[string]any{ytRow(t, task, 0, "vid00000001", "2024-01-01", "likes", "views")}
	if diff := cmp.Diff(want, e.rows(t, backfill.TableRows)); diff != "" {
		t.Errorf("backfill_rows mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 6, Succeeded: 1, Rows: 1, APICalls: 2}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts after the redelivery mismatch (-want +got):\n%s", diff)
	}
}

// An http_json task follows next links to the end and writes every record.
func TestHTTPJSONWithPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	api := httpjsonfake.NewJSONAPIServer(sourcestest.WithItems(25), sourcestest.WithPageSize(10))
	t.Cleanup(api.Close)
	p := e.newJob(t, `{"source":"http_json","http_json":{"url":"`+api.URL()+`/items","records_path":"data.items",
		"pagination":{"type":"next_link","next_path":"paging.next"}}}`)
	task := p.Task(0)
	got := e.deliver(t, task, attemptOf{})
	if got.status != 200 || got.answer.Outcome != "succeeded" || got.answer.Rows != 25 {
		t.Errorf("deliver() = %d %+v, want 200 succeeded with 25 rows", got.status, got.answer)
	}
	var want []map[string]any
	for i := 1; i <= 25; i++ {
		b, err := json.Marshal(httpjsonfake.Item(i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, map[string]any{"job_id": p.JobID, "shard": task.Shard, "row_index": int64(i - 1),
			"source": "http_json", "fetched_at": fetchedAt, "video_id": nil, "day": nil, "record": string(b)})
	}
	if diff := cmp.Diff(want, e.rows(t, backfill.TableRows)); diff != "" {
		t.Errorf("backfill_rows mismatch (-want +got):\n%s", diff)
	}
	pages, err := e.store.LoadRaw(context.Background(), p.JobID, task.Shard)
	if err != nil || len(pages) != 3 {
		t.Errorf("LoadRaw() = %d pages, %v; want 3", len(pages), err)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 1, Succeeded: 1, Rows: 25, APICalls: 3}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
	if n := api.Stats().Calls; n != 3 {
		t.Errorf("JSON API calls = %d, want 3", n)
	}
}

// Rows BigQuery refuses (here the deployed table demands a column the rows lack) fail the task
// with BigQuery's reason, answered 200: they would be refused every time.
func TestRowErrorFailsTask(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tbl := e.bqc.Dataset(dataset).Table(backfill.TableRows)
	md, err := tbl.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tbl.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range md.Schema {
		if f.Name == "video_id" {
			f.Required = true
		}
	}
	if err := tbl.Create(ctx, &bigquery.TableMetadata{Schema: md.Schema}); err != nil {
		t.Fatal(err)
	}
	api := httpjsonfake.NewJSONAPIServer(sourcestest.WithItems(3))
	t.Cleanup(api.Close)
	p := e.newJob(t, `{"source":"http_json","http_json":{"url":"`+api.URL()+`/list"}}`)
	got := e.deliver(t, p.Task(0), attemptOf{})
	if got.status != 200 || got.answer.Outcome != "failed" || !strings.Contains(got.answer.Reason, "video_id") {
		t.Errorf("deliver() = %d %+v, want 200 failed naming video_id", got.status, got.answer)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 1, Failed: 1, APICalls: 1}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
}
