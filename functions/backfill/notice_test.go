package backfill

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
	"github.com/pipelinekit/pipelinekit/shared/jobnotice"
)

// fakeNotices records the notices published; while fail is set, each publish fails with it.
type fakeNotices struct {
	mu   sync.Mutex
	sent []jobnotice.Notice
	fail error
}

func (f *fakeNotices) Publish(_ context.Context, n jobnotice.Notice) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", f.fail
	}
	f.sent = append(f.sent, n)
	return strconv.Itoa(len(f.sent)), nil
}

func (f *fakeNotices) failWith(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = err
}

func (f *fakeNotices) notices() []jobnotice.Notice {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]jobnotice.Notice(nil), f.sent...)
}

// noticeHarness is a harness whose service publishes notices to a fake, on a clock the test moves.
func noticeHarness(t *testing.T) (*harness, *fakeNotices, *fakeclock.Clock) {
	t.Helper()
	clk := fakeclock.New(time.Now().UTC().Truncate(time.Microsecond)) // as Firestore keeps it
	h := newHarness(t, harnessOptions{paused: true, clock: clk.Now})
	f := &fakeNotices{}
	h.svc.notices = f
	return h, f, clk
}

// sweepAll posts Cloud Scheduler's POST /backfills:sweep and returns its status code.
func (h *harness) sweepAll(t *testing.T) int {
	t.Helper()
	return h.do(t, http.MethodPost, "/backfills:sweep", "", nil, nil, nil)
}

// TestJobEndPublishesOneNotice: ten sweeps at once (scheduled and forced) see the same end; one
// notice is published, with what the job ended with, and later sweeps publish nothing more.
func TestJobEndPublishesOneNotice(t *testing.T) {
	h, f, clk := noticeHarness(t)
	spec := httpSpec(3, "")
	plan := h.plan(t, spec)
	created := clk.Now()
	h.create(t, spec)
	h.record(t, plan, map[int]string{0: "", 1: "", 2: "HTTP 404"})
	clk.Advance(time.Minute)

	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			path := "/backfills:sweep"
			if i%2 == 1 {
				path = "/backfills/" + plan.JobID + ":sweep"
			}
			if code := h.do(t, http.MethodPost, path, "", nil, nil, nil); code != http.StatusOK {
				t.Errorf("POST %s = %d, want 200", path, code)
			}
		})
	}
	wg.Wait()
	clk.Advance(time.Hour) // past noticeGrace: a pending notice would be published again
	if code := h.sweepAll(t); code != http.StatusOK {
		t.Errorf("POST /backfills:sweep = %d, want 200", code)
	}
	want := []jobnotice.Notice{{SchemaVersion: 1, NoticeID: plan.JobID + "/1", JobID: plan.JobID, EndSeq: 1,
		State: backfill.JobDoneWithFailures, Source: "http_json",
		Counts:    backfill.Counts{Planned: 3, Enqueued: 3, Succeeded: 2, Failed: 1, Rows: 20, APICalls: 3},
		CreatedAt: created, EndedAt: created.Add(time.Minute)}}
	if diff := cmp.Diff(want, f.notices()); diff != "" {
		t.Errorf("notices mismatch (-want +got):\n%s", diff)
	}
	if j := h.job(t, plan.JobID); j.NoticePending || j.NotifiedAt.IsZero() {
		t.Errorf("job after its notice: pending %v, notified at %v; want recorded", j.NoticePending, j.NotifiedAt)
	}
}

// TestNoticePublishedAgainAfterACrash: an end whose notice was never published (the process died
// after MarkEnded, or Pub/Sub refused) is published by the scheduled sweep once it is older than
// noticeGrace, and one whose publish was not recorded is published again with the same
// notice_id and body, so consumers can drop the duplicate.
func TestNoticePublishedAgainAfterACrash(t *testing.T) {
	h, f, clk := noticeHarness(t)
	crashed, refused, unrecorded := httpSpec(1, ""), httpSpec(2, ""), httpSpec(3, "")
	var plans []*backfill.Plan
	for _, spec := range []string{crashed, refused, unrecorded} {
		p := h.plan(t, spec)
		h.create(t, spec)
		outcomes := map[int]string{}
		for i := range p.Tasks {
			outcomes[i] = ""
		}
		h.record(t, p, outcomes)
		plans = append(plans, p)
	}
	// crashed: the end stored, then the process died.
	if e, err := h.store.MarkEnded(t.Context(), h.status(t, plans[0].JobID), backfill.JobDone); err != nil || e == nil {
		t.Fatalf("MarkEnded() = %v, %v", e, err)
	}
	// unrecorded: published, then the process died before recording it.
	e, err := h.store.MarkEnded(t.Context(), h.status(t, plans[2].JobID), backfill.JobDone)
	if err != nil || e == nil {
		t.Fatalf("MarkEnded() = %v, %v", e, err)
	}
	first := jobnotice.FromEnd(*e)
	if _, err := f.Publish(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	// refused: the sweep ends it, Pub/Sub refuses the notice; the sweep says so.
	f.failWith(errors.New("rpc error: code = Unavailable"))
	if code := h.sweepAll(t); code != http.StatusServiceUnavailable {
		t.Errorf("POST /backfills:sweep with Pub/Sub refusing = %d, want 503", code)
	}
	f.failWith(nil)
	if code := h.sweepAll(t); code != http.StatusOK || len(f.notices()) != 1 {
		t.Errorf("POST /backfills:sweep within noticeGrace = %d with %d notices, want 200 and only the first publish", code, len(f.notices()))
	}

	clk.Advance(noticeGrace)
	if code := h.sweepAll(t); code != http.StatusOK {
		t.Errorf("POST /backfills:sweep = %d, want 200", code)
	}
	h.sweepAll(t)
	byID := map[string][]jobnotice.Notice{}
	for _, n := range f.notices() {
		byID[n.NoticeID] = append(byID[n.NoticeID], n)
	}
	for i, want := range []int{1, 1, 2} {
		id := jobnotice.NoticeID(plans[i].JobID, 1)
		if len(byID[id]) != want {
			t.Errorf("notice %s published %d times, want %d", id, len(byID[id]), want)
		}
	}
	if got := byID[first.NoticeID]; len(got) == 2 {
		if diff := cmp.Diff(got[0], got[1]); diff != "" {
			t.Errorf("the notice published again differs (-first +again):\n%s", diff)
		}
	}
	if pending, err := h.store.PendingNotices(t.Context(), 10); err != nil || len(pending) != 0 {
		t.Errorf("PendingNotices() = %v, %v, want none", pending, err)
	}
}

// TestRetryAfterEndGivesANewNotice: a :retry reopens a job that ended with failures, and its
// second end is a second notice, told apart by end_seq (and generation).
func TestRetryAfterEndGivesANewNotice(t *testing.T) {
	h, f, _ := noticeHarness(t)
	spec := httpSpec(2, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	h.record(t, plan, map[int]string{0: "", 1: "HTTP 503"})
	h.sweepAll(t)
	if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":retry", "", nil, nil, nil); code != http.StatusAccepted {
		t.Fatalf(":retry = %d, want 202", code)
	}
	h.sweepAll(t) // running again: no notice
	h.record(t, plan, map[int]string{1: ""})
	h.sweepAll(t)
	type end struct {
		ID, State       string
		Seq, Generation int
		Failed          int
	}
	var got []end
	for _, n := range f.notices() {
		got = append(got, end{n.NoticeID, n.State, n.EndSeq, n.Generation, n.Counts.Failed})
	}
	want := []end{
		{plan.JobID + "/1", backfill.JobDoneWithFailures, 1, 0, 1},
		{plan.JobID + "/2", backfill.JobDone, 2, 1, 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notices mismatch (-want +got):\n%s", diff)
	}
}

// TestCancelledJobNotice: a cancelled job's notice comes once its every task is accounted for,
// with the state cancelled.
func TestCancelledJobNotice(t *testing.T) {
	h, f, _ := noticeHarness(t)
	spec := httpSpec(2, "")
	plan := h.plan(t, spec)
	h.create(t, spec)
	h.record(t, plan, map[int]string{0: ""})
	if code := h.do(t, http.MethodPost, "/backfills/"+plan.JobID+":cancel", "", nil, nil, nil); code != http.StatusOK {
		t.Fatalf(":cancel = %d, want 200", code)
	}
	h.sweepAll(t) // task 1 still queued: not accounted for yet
	if n := len(f.notices()); n != 0 {
		t.Errorf("%d notices while a task is unaccounted for, want 0", n)
	}
	h.lose(t, 1)
	h.sweepAll(t)
	got := f.notices()
	if len(got) != 1 || got[0].State != backfill.JobCancelled || got[0].Counts.Cancelled != 1 || got[0].Counts.Succeeded != 1 {
		t.Errorf("notices = %+v, want one, cancelled, with 1 succeeded and 1 cancelled", got)
	}
}

// TestRepublishBoundedPerSweep: a scheduled sweep publishes at most sweepJobs pending notices
// again (here 2): two of three pending at the bound, the third on the next call.
func TestRepublishBoundedPerSweep(t *testing.T) {
	h, f, clk := noticeHarness(t)
	h.svc.sweepJobs = 2
	for n := 1; n <= 3; n++ {
		spec := httpSpec(n, "")
		p := h.plan(t, spec)
		h.create(t, spec)
		outcomes := map[int]string{}
		for i := range n {
			outcomes[i] = ""
		}
		h.record(t, p, outcomes)
		// Ended by a process that died before publishing.
		if e, err := h.store.MarkEnded(t.Context(), h.status(t, p.JobID), backfill.JobDone); err != nil || e == nil {
			t.Fatalf("MarkEnded() = %v, %v", e, err)
		}
	}
	clk.Advance(noticeGrace)
	for call, want := range []int{2, 3, 3} {
		if code := h.sweepAll(t); code != http.StatusOK {
			t.Errorf("POST /backfills:sweep %d = %d, want 200", call+1, code)
		}
		if got := len(f.notices()); got != want {
			t.Errorf("after sweep %d: %d notices, want %d", call+1, got, want)
		}
	}
}
