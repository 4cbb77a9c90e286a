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
