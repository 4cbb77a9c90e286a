package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
)

// waitQueueIdle waits until queue q has no task left to run.
func (h *harness) waitQueueIdle(t *testing.T, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := h.tasks.WaitIdle(ctx, q); err != nil {
		t.Fatalf("WaitIdle(%s) = %v; %d tasks left", q, err, len(h.tasks.Tasks(q)))
	}
}

// queuedWorkers counts the worker tasks waiting in the worker queues by index, and counts the
// expansion tasks found there.
func (h *harness) queuedWorkers(t *testing.T) (seen map[int]int, expansions int) {
	t.Helper()
	seen = map[int]int{}
	for _, q := range h.queueNames {
		for _, task := range h.tasks.Tasks(q) {
			if strings.HasSuffix(task.GetHttpRequest().GetUrl(), ":expand") {
				expansions++
				continue
			}
			var ts backfill.TaskSpec
			if err := json.Unmarshal(task.GetHttpRequest().GetBody(), &ts); err != nil {
				t.Fatalf("worker body %s: %v", task.GetHttpRequest().GetBody(), err)
			}
			seen[ts.Index]++
		}
	}
	return seen, expansions
}

// With a control queue, every link of a job's chains is created and dispatched there, never in
// a worker queue, and with the worker queues paused (nothing dispatched, as when they are
// full) the chains still advance to their end: every worker task is queued once and the job
// leaves planning before any worker task ran.
func TestChainLinksRunFromTheControlQueue(t *testing.T) {
	const slice = 10
	for _, tt := range []struct {
		name          string
		tasks, queues int
	}{
		{"200 tasks, 1 queue", 200, 1},
		{"1000 tasks, 3 queues", 1000, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{slice: slice, paused: true, queues: tt.queues, control: true})
			got := h.create(t, httpSpec(tt.tasks, ""))
			h.waitQueueIdle(t, testControlQueue)

			links := 0
			for _, d := range h.tasks.Dispatched() {
				if strings.HasSuffix(d.URL, ":expand") {
					links++
					if d.Queue != testControlQueue {
						t.Errorf("link %s dispatched from %s, want %s", d.Body, d.Queue, testControlQueue)
					}
				} else {
					t.Errorf("worker task %s dispatched from paused queue %s", d.Task, d.Queue)
				}
			}
			if want := tt.tasks / slice; links != want {
				t.Errorf("%d links ran from the control queue, want %d (one per slice)", links, want)
			}
			seen, expansions := h.queuedWorkers(t)
			if expansions != 0 {
				t.Errorf("%d expansion tasks in the worker queues, want 0", expansions)
			}
			for i := range tt.tasks {
				if seen[i] != 1 {
					t.Errorf("task %d queued %d times, want 1", i, seen[i])
				}
			}
			if st := h.status(t, got.JobID); st.Counts.Enqueued != tt.tasks || st.State != backfill.JobRunning {
				t.Errorf("job enqueued %d state %s with the worker queues paused, want %d and running", st.Counts.Enqueued, st.State, tt.tasks)
			}
		})
	}
}

// controlRetry is Terraform's retry config of the control queue (tasks.tf): unlimited
// attempts (-1) and no age limit, backoff from 1 s to 60 s.
var controlRetry = &cloudtaskspb.RetryConfig{
	MaxAttempts: -1, MaxRetryDuration: durationpb.New(0),
	MinBackoff: durationpb.New(time.Second), MaxBackoff: durationpb.New(time.Minute), MaxDoublings: 5,
}

// workerRetry is the worker queues' retry config at Terraform's defaults (queue_max_attempts 8).
var workerRetry = &cloudtaskspb.RetryConfig{
	MaxAttempts: 8, MaxRetryDuration: durationpb.New(0),
	MinBackoff: durationpb.New(10 * time.Second), MaxBackoff: durationpb.New(10 * time.Minute), MaxDoublings: 5,
}

// failingLink answers 503 to the first failures deliveries of the link of range [from, to) and
// counts every delivery of it.
type failingLink struct {
	body     string
	failures int
	mu       sync.Mutex
	attempts int
}

func (f *failingLink) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ":expand") {
			body, _ := readAndRestore(r)
			if strings.TrimSpace(body) == f.body {
				f.mu.Lock()
				f.attempts++
				fail := f.attempts <= f.failures
				f.mu.Unlock()
				if fail {
					writeError(w, http.StatusServiceUnavailable, "creating worker tasks: injected failure")
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// A link that fails more times than the worker queues' max_attempts (8) is retried by the
// control queue until it succeeds, and the rest of its chain is created: no link is dropped.
// The Cloud Tasks clock is a fake that a goroutine moves on, so backoffs pass without waiting.
func TestControlQueueNeverDropsALink(t *testing.T) {
	const slice, tasks, failures = 10, 200, 20
	clock := tasksemulator.NewFakeClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	// The second link of the first chain [0, 100): its failure would strand [20, 100).
	link := &failingLink{body: `{"from":10,"to":100}`, failures: failures}
	h := newHarness(t, harnessOptions{slice: slice, queues: 1, control: true, controlRetry: controlRetry,
		workerRetry: workerRetry, tasksClock: clock, wrap: link.wrap})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				// Past every backoff of controlRetry, but only while no attempt is in flight, so
				// that no dispatch deadline passes on the fake clock.
				if h.tasks.InFlight(testControlQueue) == 0 && h.tasks.InFlight(testQueue) == 0 {
					clock.Advance(time.Minute)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	got := h.create(t, httpSpec(tasks, ""))
	h.waitQueueIdle(t, testControlQueue)
	h.waitQueueIdle(t, testQueue)
	close(stop)
	<-done

	link.mu.Lock()
	attempts := link.attempts
	link.mu.Unlock()
	if attempts != failures+1 {
		t.Errorf("link %s delivered %d times, want %d (%d failures, then success)", link.body, attempts, failures+1, failures)
	}
	st := h.status(t, got.JobID)
	if diff := cmp.Diff(tasks, st.Counts.Enqueued); diff != "" || st.State == backfill.JobPlanning {
		t.Errorf("job enqueued %d state %s, want %d and past planning (-want +got):\n%s", st.Counts.Enqueued, st.State, tasks, diff)
	}
}

// readAndRestore reads r's body and puts it back for the next handler.
func readAndRestore(r *http.Request) (string, error) {
	b, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return string(b), err
}

// A job cancelled while its links wait in the control queue creates no worker task: each link
// the control queue delivers answers skipped and creates no successor.
func TestCancelledJobsLinksInTheControlQueueDoNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{slice: 10, paused: true, control: true})
	if _, err := h.client.PauseQueue(t.Context(), &cloudtaskspb.PauseQueueRequest{Name: testControlQueue}); err != nil {
		t.Fatalf("PauseQueue(%s) = %v", testControlQueue, err)
	}
	got := h.create(t, httpSpec(200, ""))
	var st CancelResponse
	if code := h.do(t, http.MethodPost, "/backfills/"+got.JobID+":cancel", "", nil, nil, &st); code != http.StatusOK {
		t.Fatalf("POST :cancel = %d, want 200", code)
	}
	if _, err := h.client.ResumeQueue(t.Context(), &cloudtaskspb.ResumeQueueRequest{Name: testControlQueue}); err != nil {
		t.Fatalf("ResumeQueue(%s) = %v", testControlQueue, err)
	}
	h.waitQueueIdle(t, testControlQueue)
	var kinds []string // the queue of every attempt: only the two chain heads ran
	for _, d := range h.tasks.Dispatched() {
		kinds = append(kinds, d.Queue)
	}
	if diff := cmp.Diff([]string{testControlQueue, testControlQueue}, kinds); diff != "" {
		t.Errorf("links dispatched after the cancel, by queue (-want +got):\n%s", diff)
	}
	if seen, expansions := h.queuedWorkers(t); len(seen) != 0 || expansions != 0 {
		t.Errorf("worker queues hold %d worker and %d expansion tasks after the cancel, want none", len(seen), expansions)
	}
}
