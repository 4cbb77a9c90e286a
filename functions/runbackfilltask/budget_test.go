package runbackfilltask

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// A task slower than the worker's budget records its outcome before the dispatch deadline:
// retrying on an early attempt, failed on the last, each answered in time. Here the API never
// answers, and the "dispatch deadline" is the client's timeout of 20 s; without the budget the
// worker would wait for the API until Cloud Tasks gave up, and record nothing.
func TestSlowTaskRecordsItsOutcomeBeforeTheDispatchDeadline(t *testing.T) {
	t.Parallel()
	const budget = 300 * time.Millisecond
	e := newEnv(t, withBudget(budget), withMaxAttempts(3))
	hang := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	t.Cleanup(api.Close)
	t.Cleanup(func() { close(hang) })
	p := e.newJob(t, `{"source":"http_json","http_json":{"url":"`+api.URL+`/slow"}}`)
	task := p.Task(0)

	dispatch := &http.Client{Timeout: 20 * time.Second}
	deliver := func(retryCount int) (int, Answer) {
		b, err := json.Marshal(task)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(HeaderQueueName, "backfill")
		req.Header.Set(HeaderTaskName, "slow")
		req.Header.Set(HeaderRetryCount, strconv.Itoa(retryCount))
		req.Header.Set(HeaderExecutionCount, strconv.Itoa(retryCount))
		res, err := dispatch.Do(req)
		if err != nil {
			t.Fatalf("attempt %d: no answer within the dispatch deadline: %v", retryCount+1, err)
		}
		defer res.Body.Close()
		var a Answer
		if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
			t.Errorf("decoding the answer: %v", err)
		}
		return res.StatusCode, a
	}

	if code, a := deliver(0); code != http.StatusServiceUnavailable || a.Outcome != backfill.ShardRetrying || !strings.Contains(a.Reason, "work budget") {
		t.Errorf("first attempt = %d %+v, want 503 retrying, out of its work budget", code, a)
	}
	if c := e.counts(t, p.JobID); c.Retrying != 1 {
		t.Errorf("counts after the first attempt = %+v, want 1 retrying", c)
	}
	if code, a := deliver(2); code != http.StatusOK || a.Outcome != backfill.ShardFailed || !strings.Contains(a.Reason, "work budget") {
		t.Errorf("last attempt = %d %+v, want 200 failed, out of its work budget", code, a)
	}
	if c := e.counts(t, p.JobID); c.Failed != 1 || c.Retrying != 0 {
		t.Errorf("counts after the last attempt = %+v, want 1 failed, 0 retrying", c)
	}
}
