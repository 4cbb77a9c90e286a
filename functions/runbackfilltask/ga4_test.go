package runbackfilltask

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4/ga4fake"
)

// appendWatch records the appends to backfill_rows and says when the first one arrives.
type appendWatch struct {
	Appender
	first chan struct{}

	mu    sync.Mutex
	sizes []int
}

func newAppendWatch() *appendWatch { return &appendWatch{first: make(chan struct{})} }

func (a *appendWatch) Append(ctx context.Context, table string, rows []map[string]any) error {
	err := a.Appender.Append(ctx, table, rows)
	if table == backfill.TableRows {
		a.mu.Lock()
		if len(a.sizes) == 0 {
			close(a.first)
		}
		a.sizes = append(a.sizes, len(rows))
		a.mu.Unlock()
	}
	return err
}

func (a *appendWatch) largest() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, s := range a.sizes {
		n = max(n, s)
	}
	return n
}

// ga4Spec is a one-task GA4 backfill of 70 days x 5 countries x 3 devices (1,050 rows) at the
// spec's largest limit.
const ga4Spec = `{"source":"ga4","ga4":{"property":"` + ga4fake.GA4DefaultPropertyID + `",
	"dimensions":["date","country","deviceCategory"],"metrics":["activeUsers","engagementRate"],
	"start":"2026-01-01","end":"2026-03-11","chunk":"range","limit":250000}}`

// post delivers a task as Cloud Tasks does, from any goroutine.
func post(url string, task backfill.TaskSpec) (Answer, error) {
	b, _ := json.Marshal(task)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set(HeaderQueueName, "backfill")
	req.Header.Set(HeaderTaskName, fmt.Sprintf("%s-t%09d", task.JobID, task.Index))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer res.Body.Close()
	var a Answer
	return a, json.NewDecoder(res.Body).Decode(&a)
}

// A GA4 task hands its rows to BigQuery while the API is still sending the page, in appends of
// at most ga4.GA4BatchRows rows, and asks for at most ga4.GA4PageRows rows a request
// whatever the spec's limit (250,000 here): the fake holds the body open after 700 of its
// 1,050 rows until rows have reached BigQuery. The whole report still lands once, with its
// completion marker, and the raw body is kept byte for byte. (The minute's guard only turns a
// hang into a failure; nothing is timed.)
func TestGA4TaskStreamsRows(t *testing.T) {
	hold := ga4fake.NewGA4Hold(700)
	watch := newAppendWatch()
	e := newEnv(t, withGA4(ga4fake.WithGA4Hold(hold)), withAppender(func(a Appender) Appender { watch.Appender = a; return watch }))
	p := e.newJob(t, ga4Spec)
	task := p.Task(0)
	done := make(chan error, 1)
	var answer Answer
	go func() {
		var err error
		answer, err = post(e.url, task)
		done <- err
	}()
	select {
	case <-hold.Reached:
	case err := <-done:
		t.Fatalf("the task ended (%v, %+v) before the fake held its body", err, answer)
	}
	select {
	case <-watch.first:
	case err := <-done:
		t.Fatalf("the task ended (%v, %+v) while the body was held open", err, answer)
	case <-time.After(time.Minute):
		t.Error("no row reached BigQuery while the GA4 body was held open after 700 of 1,050 rows")
	}
	close(hold.Release)
	if err := <-done; err != nil || answer.Outcome != "succeeded" || answer.Rows != 1050 {
		t.Fatalf("task answer = %+v, %v; want succeeded with 1050 rows", answer, err)
	}
	if n := watch.largest(); n > ga4.GA4BatchRows {
		t.Errorf("largest append = %d rows, want at most %d", n, ga4.GA4BatchRows)
	}
	if diff := cmp.Diff([]int64{ga4.GA4PageRows}, e.ga4.Stats().Limits); diff != "" {
		t.Errorf("limits asked of the API (-want +got):\n%s", diff)
	}
	if rows := e.rows(t, "backfill_rows_dedup"); len(rows) != 1050 {
		t.Errorf("backfill_rows_dedup has %d rows, want 1050", len(rows))
	}
	raw, err := e.store.LoadRaw(t.Context(), task.JobID, task.Shard)
	if err != nil || len(raw) != 1 || !json.Valid(raw[0]) {
		t.Errorf("LoadRaw() = %d pages, %v; want 1 whole JSON page", len(raw), err)
	}
}

// The sampling metadata follows the rows: a sampled report's rows, first streamed as
// unsampled, are fetched again under a new fetched_at and all carry sampled=true in
// backfill_rows_dedup (the first fetch has no completion marker).
func TestGA4TaskSampledAfterRows(t *testing.T) {
	var n int
	var mu sync.Mutex
	tick := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fetchedAt.Add(time.Duration(n) * time.Second)
	}
	e := newEnv(t, withGA4(ga4fake.WithGA4SamplingOver(7)), withRowClock(tick))
	p := e.newJob(t, ga4Spec)
	got := e.deliver(t, p.Task(0), attemptOf{})
	if got.answer.Outcome != "succeeded" || got.answer.Rows != 1050 {
		t.Fatalf("answer = %+v, want succeeded with 1050 rows", got.answer)
	}
	rows := e.rows(t, "backfill_rows_dedup")
	if len(rows) != 1050 {
		t.Fatalf("backfill_rows_dedup has %d rows, want 1050", len(rows))
	}
	for _, r := range rows {
		var rec map[string]any
		if err := json.Unmarshal([]byte(r["record"].(string)), &rec); err != nil || rec["sampled"] != true {
			t.Fatalf("row %v: sampled = %v, want true", r["row_index"], rec["sampled"])
		}
	}
	if calls := e.ga4.Stats().Calls; calls != 2 {
		t.Errorf("API calls = %d, want 2 (the page again once its sampling is known)", calls)
	}
}

// A body cut short on the wire is a transient failure: the task is retried, and the rows it
// appended before the cut never show (no completion marker).
func TestGA4TaskCutBodyRetries(t *testing.T) {
	e := newEnv(t, withGA4(ga4fake.WithGA4TruncateAfter(600)))
	p := e.newJob(t, ga4Spec)
	got := e.deliver(t, p.Task(0), attemptOf{})
	if got.status != http.StatusInternalServerError && got.status != http.StatusServiceUnavailable && got.status != http.StatusTooManyRequests {
		t.Errorf("status = %d (%+v), want a retry status", got.status, got.answer)
	}
	if got.answer.Outcome != backfill.ShardRetrying {
		t.Errorf("outcome = %q, want %q", got.answer.Outcome, backfill.ShardRetrying)
	}
	if rows := e.rows(t, "backfill_rows_dedup"); len(rows) != 0 {
		t.Errorf("backfill_rows_dedup has %d rows of a cut fetch, want 0", len(rows))
	}
}
