package runbackfilltask

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// A redelivery of a task whose outcome is final (its answer was lost, or its outcome commit
// reported a timeout but landed) makes no API call, appends no row and changes no count.
func TestRedeliveryAfterFinalOutcomeRunsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.newJob(t, twoVideosThreeDays)
	task := p.Task(0)
	if got := e.deliver(t, task, attemptOf{}); got.status != 200 || got.answer.Outcome != "succeeded" || got.answer.Duplicate {
		t.Fatalf("first delivery = %+v, want 200 succeeded", got)
	}
	for _, a := range []attemptOf{{retryCount: 1, previous: "500"}, {retryCount: 2}} {
		got := e.deliver(t, task, a)
		want := response{status: 200, answer: Answer{Outcome: "succeeded", Duplicate: true}}
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(response{})); diff != "" {
			t.Errorf("redelivery %+v mismatch (-want +got):\n%s", a, diff)
		}
	}
	if n := e.yt.Stats().Calls; n != 1 {
		t.Errorf("API calls = %d, want 1: a redelivery of a final task ran it again", n)
	}
	if n := len(e.rows(t, backfill.TableRows)); n != 1 {
		t.Errorf("backfill_rows has %d rows, want 1: a redelivery of a final task appended again", n)
	}
	if diff := cmp.Diff(backfill.Counts{Planned: 6, Succeeded: 1, Rows: 1, APICalls: 1}, e.counts(t, p.JobID)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
}

// A transient API failure is retried in the same delivery (no dispatch, no retrying commit)
// up to APIRetries times, counting every call; beyond that, or when the API asks for a longer
// wait than the worker may spend, the queue gets it as before.
func TestTransientAPIFailureRetriedInProcess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		ytOpts     []sourcestest.Option
		fail       int
		status     int
		reason     string
		wantStatus int
		wantCounts backfill.Counts
	}{
		{name: "two 503s pass on the third call", fail: 2, status: 503, reason: "backendError",
			wantStatus: 200, wantCounts: backfill.Counts{Planned: 6, Succeeded: 1, Rows: 1, APICalls: 3}},
		{name: "three 503s go to the queue", fail: 3, status: 503, reason: "backendError",
			wantStatus: 503, wantCounts: backfill.Counts{Planned: 6, Retrying: 1, APICalls: 3}},
		{name: "a 429 asking for 7 s goes to the queue at once", ytOpts: []sourcestest.Option{sourcestest.With429Rate(0, 7*time.Second)},
			fail: 1, status: 429, reason: "rateLimitExceeded",
			wantStatus: 429, wantCounts: backfill.Counts{Planned: 6, Retrying: 1, APICalls: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withYouTube(tt.ytOpts...), withWorker(Options{APIRetries: 2}))
			p := e.newJob(t, twoVideosThreeDays)
			e.yt.FailNext(tt.fail, tt.status, tt.reason)
			if got := e.deliver(t, p.Task(0), attemptOf{}); got.status != tt.wantStatus {
				t.Errorf("deliver() = %d %+v, want %d", got.status, got.answer, tt.wantStatus)
			}
			if diff := cmp.Diff(tt.wantCounts, e.counts(t, p.JobID)); diff != "" {
				t.Errorf("counts mismatch (-want +got):\n%s", diff)
			}
			if n := e.yt.Stats().Calls; n != tt.wantCounts.APICalls {
				t.Errorf("the API served %d calls, the job counts %d", n, tt.wantCounts.APICalls)
			}
		})
	}
}

// jobStore serves GetJob from a map and counts the reads; the other methods are not called.
type jobStore struct {
	Store
	jobs  map[string]backfill.Job
	reads int
}

func (s *jobStore) GetJob(_ context.Context, id string) (*backfill.Job, error) {
	s.reads++
	j, ok := s.jobs[id]
	if !ok {
		return nil, backfill.ErrNotFound
	}
	return &j, nil
}

// The job cache reads a job once per TTL, so a cancel made elsewhere reaches the deliveries
// within the TTL and not later; a job this instance blocks is blocked at once; a missing job is
// never cached.
func TestJobCacheHonoursCancelWithinItsTTL(t *testing.T) {
	const ttl = 2 * time.Second
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	store := &jobStore{jobs: map[string]backfill.Job{"bf-1": {ID: "bf-1", State: backfill.JobRunning}}}
	c := newJobCache(store, ttl, func() time.Time { return now })
	ctx := context.Background()
	state := func() string {
		t.Helper()
		j, err := c.get(ctx, "bf-1")
		if err != nil {
			t.Fatalf("get() = %v", err)
		}
		if j.Cancelled {
			return backfill.JobCancelled
		}
		return j.State
	}
	var got []string
	for range 100 {
		got = append(got, state())
	}
	store.jobs["bf-1"] = backfill.Job{ID: "bf-1", State: backfill.JobRunning, Cancelled: true}
	now = now.Add(ttl - time.Millisecond)
	got = append(got, state()) // still within the TTL of the read
	now = now.Add(time.Millisecond)
	got = append(got, state()) // the TTL is over: read again
	want := append(make([]string, 0, 102), got[:100]...)
	for i := range want {
		want[i] = backfill.JobRunning
	}
	want = append(want, backfill.JobRunning, backfill.JobCancelled)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states seen mismatch (-want +got):\n%s", diff)
	}
	if store.reads != 2 {
		t.Errorf("job reads = %d for 102 deliveries over one TTL, want 2", store.reads)
	}

	store.jobs["bf-1"] = backfill.Job{ID: "bf-1", State: backfill.JobRunning}
	now = now.Add(ttl)
	_ = state()
	c.blocked("bf-1", "invalid_grant")
	if s := state(); s != backfill.JobBlocked {
		t.Errorf("state after this instance blocked the job = %q, want %q", s, backfill.JobBlocked)
	}
	for range 3 {
		if _, err := c.get(ctx, "bf-missing"); err == nil {
			t.Errorf("get(missing job) = nil error, want ErrNotFound")
		}
	}
	if store.reads != 6 {
		t.Errorf("job reads = %d, want 6 (a missing job is read every time)", store.reads)
	}
}

// commitSlots lets n acquirers through and makes the next wait until one releases or its
// context ends; a zero bound lets everyone through.
func TestCommitSlots(t *testing.T) {
	ctx := context.Background()
	s := newCommitSlots(2)
	for i := range 2 {
		if err := s.acquire(ctx); err != nil {
			t.Fatalf("acquire %d = %v", i, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.acquire(short); err == nil {
		t.Errorf("third acquire with both slots taken = nil, want the context's error")
	}
	s.release()
	if err := s.acquire(ctx); err != nil {
		t.Errorf("acquire after a release = %v", err)
	}
	var none commitSlots = newCommitSlots(0)
	for range 100 {
		if err := none.acquire(ctx); err != nil {
			t.Fatalf("unbounded acquire = %v", err)
		}
	}
	none.release()
}
