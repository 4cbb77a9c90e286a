package backfill

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// readStatus reads the job's status.
func readStatus(t *testing.T, s *Store, job string) *Status {
	t.Helper()
	st, err := s.Status(t.Context(), job)
	if err != nil {
		t.Fatalf("Status(%s) = %v", job, err)
	}
	return st
}

// TestMarkEndedDecidesOnce: twenty sweeps that saw the same end race for it; one gets it, with
// what the job ended with, and its notice is pending until MarkNotified.
func TestMarkEndedDecidesOnce(t *testing.T) {
	s, clk, job := newStore(t, 2)
	ctx := t.Context()
	created := clk.Now()
	clk.Advance(time.Minute)
	if _, err := s.RecordSuccess(ctx, job, ref(0), 3, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordFailure(ctx, job, ref(1), "HTTP 404", 1); err != nil {
		t.Fatal(err)
	}
	st := readStatus(t, s, job)
	if st.State != JobDoneWithFailures {
		t.Fatalf("state = %s, want %s", st.State, JobDoneWithFailures)
	}
	var (
		mu   sync.Mutex
		ends []*End
		wg   sync.WaitGroup
	)
	for range 20 {
		wg.Go(func() {
			e, err := s.MarkEnded(ctx, st, st.State)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("MarkEnded() = %v", err)
			}
			if e != nil {
				ends = append(ends, e)
			}
		})
	}
	wg.Wait()
	want := &End{JobID: job, Seq: 1, State: JobDoneWithFailures, Source: "youtube_analytics",
		Counts: Counts{Planned: 2, Succeeded: 1, Failed: 1, Rows: 3, APICalls: 2}, CreatedAt: created, EndedAt: clk.Now()}
	if len(ends) != 1 {
		t.Fatalf("MarkEnded decided the end %d times, want once", len(ends))
	}
	if diff := cmp.Diff(want, ends[0]); diff != "" {
		t.Errorf("end mismatch (-want +got):\n%s", diff)
	}
	if e, err := s.MarkEnded(ctx, st, st.State); e != nil || err != nil {
		t.Errorf("MarkEnded() of the ended job = %+v, %v, want nil, nil", e, err)
	}

	pending, err := s.PendingNotices(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*End{want}, pending); diff != "" {
		t.Errorf("PendingNotices() mismatch (-want +got):\n%s", diff)
	}
	clk.Advance(time.Second)
	if err := s.MarkNotified(ctx, ends[0]); err != nil {
		t.Fatal(err)
	}
	if pending, err := s.PendingNotices(ctx, 10); err != nil || len(pending) != 0 {
		t.Errorf("PendingNotices() after MarkNotified = %v, %v, want none", pending, err)
	}
	j, err := s.GetJob(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != JobDoneWithFailures || j.Ends != 1 || j.NoticePending || !j.NotifiedAt.Equal(clk.Now()) {
		t.Errorf("job = state %s, ends %d, notice pending %v, notified at %v; want %s, 1, false, %v",
			j.State, j.Ends, j.NoticePending, j.NotifiedAt, JobDoneWithFailures, clk.Now())
	}
}

// TestMarkEndedLosesToARetryInBetween: a :retry between the status read and MarkEnded reopened
// the job; the end the status showed is no end any more.
func TestMarkEndedLosesToARetryInBetween(t *testing.T) {
	s, _, job := newStore(t, 2)
	ctx := t.Context()
	if _, err := s.RecordSuccess(ctx, job, ref(0), 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordFailure(ctx, job, ref(1), "HTTP 404", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRunning(ctx, job); err != nil {
		t.Fatal(err)
	}
	st := readStatus(t, s, job) // done_with_failures
	if _, err := s.NextRetry(ctx, job); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetShards(ctx, job, []int{1}); err != nil {
		t.Fatal(err)
	}
	if e, err := s.MarkEnded(ctx, st, st.State); e != nil || err != nil {
		t.Errorf("MarkEnded(status read before the retry) = %+v, %v, want nil, nil", e, err)
	}
	if j, err := s.GetJob(ctx, job); err != nil || j.State != JobRunning || j.Ends != 0 {
		t.Errorf("job after the retry = %+v, %v, want running with no end: the sweep must keep looking at it", j, err)
	}
}

// TestSecondEndAfterRetry: a :retry reopens an ended job and it ends again: a second end, with
// its own sequence number and generation, whose notice an old end's MarkNotified does not clear.
func TestSecondEndAfterRetry(t *testing.T) {
	s, _, job := newStore(t, 2)
	ctx := t.Context()
	if _, err := s.RecordSuccess(ctx, job, ref(0), 1, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordFailure(ctx, job, ref(1), "HTTP 503", 1); err != nil {
		t.Fatal(err)
	}
	st := readStatus(t, s, job)
	first, err := s.MarkEnded(ctx, st, st.State)
	if err != nil || first == nil {
		t.Fatalf("MarkEnded() = %+v, %v, want the first end", first, err)
	}
	if _, err := s.NextRetry(ctx, job); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetShards(ctx, job, []int{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordSuccess(ctx, job, ref(1), 1, 1); err != nil {
		t.Fatal(err)
	}
	st = readStatus(t, s, job)
	second, err := s.MarkEnded(ctx, st, st.State)
	if err != nil || second == nil {
		t.Fatalf("MarkEnded() after the retry = %+v, %v, want a second end", second, err)
	}
	got := [][3]any{{first.Seq, first.Generation, first.State}, {second.Seq, second.Generation, second.State}}
	if diff := cmp.Diff([][3]any{{1, 0, JobDoneWithFailures}, {2, 1, JobDone}}, got); diff != "" {
		t.Errorf("(seq, generation, state) of the ends mismatch (-want +got):\n%s", diff)
	}
	// The first end's notice, recorded late, leaves the second's pending.
	if err := s.MarkNotified(ctx, first); err != nil {
		t.Fatal(err)
	}
	pending, err := s.PendingNotices(ctx, 10)
	if err != nil || len(pending) != 1 || pending[0].Seq != 2 {
		t.Errorf("PendingNotices() = %+v, %v, want the second end", pending, err)
	}
}

// TestMarkEndedCancelled: a cancelled job with every task accounted for ends cancelled.
func TestMarkEndedCancelled(t *testing.T) {
	s, _, job := newStore(t, 1)
	ctx := t.Context()
	if err := s.Cancel(ctx, job); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordCancelled(ctx, job, ref(0)); err != nil {
		t.Fatal(err)
	}
	st := readStatus(t, s, job)
	e, err := s.MarkEnded(ctx, st, JobCancelledSwept)
	if err != nil || e == nil || e.State != JobCancelled || e.Counts.Cancelled != 1 {
		t.Errorf("MarkEnded(cancelled) = %+v, %v, want an end in state cancelled with 1 cancelled", e, err)
	}
}
