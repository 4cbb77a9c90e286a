package backfill

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// TestTaskSizeBoundAgainstCloudTasks creates, through the local Cloud Tasks (which refuses a
// task over 100 KB as production does), a job whose largest task body is exactly
// backfill.MaxTaskBodyBytes: every task is enqueued. One byte more is a 400 naming the
// section, and no job is created; before the bound existed, such a spec created a job whose
// tasks Cloud Tasks refused (503 on every POST, the job planning for ever).
func TestTaskSizeBoundAgainstCloudTasks(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	specWith := func(pad int) string {
		return fmt.Sprintf(`{"source":"http_json","http_json":{"url":"https://api.example.com/items/{id}","headers":{"X-Note":%q},"params":{"id":["1","%s"]}}}`,
			strings.Repeat("a", pad), strings.Repeat("b", 300))
	}
	// The padding that makes the largest body exactly the bound, found from its encoding.
	base := largestBody(t, h, specWith(0))
	atBound := specWith(backfill.MaxTaskBodyBytes - base)
	if got := largestBody(t, h, atBound); got != backfill.MaxTaskBodyBytes {
		t.Fatalf("largest task body = %d, want %d", got, backfill.MaxTaskBodyBytes)
	}
	got := h.create(t, atBound)
	if n := len(h.queued()); n != 2 || got.Enqueued != 2 {
		t.Errorf("at the bound: %d tasks queued, answer enqueued %d; want 2", n, got.Enqueued)
	}

	var refused ErrorResponse
	code := h.post(t, specWith(backfill.MaxTaskBodyBytes-base+1), &refused)
	if code != 400 || refused.Field != "http_json" || !strings.Contains(refused.Error, "over the limit of") {
		t.Errorf("one byte over: POST /backfills = %d %+v, want 400 on http_json", code, refused)
	}
	// Far over (200 KiB): before the bound, this created the job and answered 503 for ever.
	code = h.post(t, specWith(200<<10), &refused)
	if code != 400 || refused.Field != "http_json" {
		t.Errorf("200 KiB task: POST /backfills = %d %+v, want 400 on http_json", code, refused)
	}
	if n := len(h.queued()); n != 2 {
		t.Errorf("over the bound: %d tasks queued, want still 2", n)
	}
}

// largestBody is the longest worker task body of the spec's plan, encoded as the fan-out does.
func largestBody(t *testing.T, h *harness, spec string) int {
	t.Helper()
	p := h.plan(t, spec)
	most := 0
	for i := range p.Tasks {
		tasks, err := (&Service{}).workerTasks(p, []int{i}, func(int) string { return "x" })
		if err != nil {
			t.Fatal(err)
		}
		most = max(most, len(tasks[0].Body))
	}
	return most
}

// TestRequestBounds: a spec body of exactly 1 MiB is read (and judged on its content), one
// byte more is 413; a job of exactly MAX_TASKS tasks is planned, one more is a 400.
func TestRequestBounds(t *testing.T) {
	h := newHarness(t, harnessOptions{maxTasks: 100, paused: true})
	padded := func(size int) []byte {
		// Valid JSON of exactly size bytes whose source is unknown: a 400, not a 413, shows
		// the body was read whole.
		head, tail := `{"source":"`, `"}`
		return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
	}
	var got ErrorResponse
	if code := h.do(t, "POST", "/backfills", "application/json", padded(maxSpecBytes), nil, &got); code != 400 || got.Field != "source" {
		t.Errorf("POST of exactly %d bytes = %d %+v, want 400 on source", maxSpecBytes, code, got)
	}
	if code := h.do(t, "POST", "/backfills", "application/json", padded(maxSpecBytes+1), nil, &got); code != 413 {
		t.Errorf("POST of %d bytes = %d %+v, want 413", maxSpecBytes+1, code, got)
	}

	var dry DryRunResponse
	if code := h.post(t, strings.TrimSuffix(httpSpec(100, ""), "}")+`,"dry_run":true}`, &dry); code != 200 || dry.Tasks != 100 {
		t.Errorf("dry run of exactly MAX_TASKS (100) tasks = %d %+v, want 200 with 100 tasks", code, dry)
	}
	if code := h.post(t, httpSpec(101, ""), &got); code != 400 || got.Field != "http_json" {
		t.Errorf("101 tasks = %d %+v, want 400 on http_json", code, got)
	}
}

// TestListAndIDBounds: GET /backfills takes limit up to 100 (101 is a 400 naming limit), and a
// job id that is not one this API makes is a 404 or 400, never a store error.
func TestListAndIDBounds(t *testing.T) {
	h := newHarness(t, harnessOptions{paused: true})
	var list ListResponse
	if code := h.do(t, "GET", "/backfills?limit=100", "", nil, nil, &list); code != 200 {
		t.Errorf("GET /backfills?limit=100 = %d, want 200", code)
	}
	var e ErrorResponse
	if code := h.do(t, "GET", "/backfills?limit=101", "", nil, nil, &e); code != 400 || e.Field != "limit" {
		t.Errorf("GET /backfills?limit=101 = %d %+v, want 400 naming limit", code, e)
	}
	for _, id := range []string{"bf-0123456789abcdef", "bf-" + strings.Repeat("a", 2000), "..", "bf-%2F"} {
		e = ErrorResponse{}
		code := h.do(t, "GET", "/backfills/"+id, "", nil, nil, &e)
		if code != 404 && code != 400 {
			t.Errorf("GET /backfills/%.30s… = %d %+v, want 404 or 400", id, code, e)
		}
	}
}
