package backfill

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
)

func TestMain(m *testing.M) {
	os.Exit(gcloudemu.Main(m, gcloudemu.Firestore))
}

// newStore returns a store on a Firestore project of its own and a job of planned tasks in it.
func newStore(t *testing.T, planned int, opts ...Option) (*Store, *fakeclock.Clock, string) {
	t.Helper()
	client, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatalf("firestore.NewClient = %v", err)
	}
	t.Cleanup(func() { client.Close() })
	clk := fakeclock.New(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	s := NewStore(client, append([]Option{WithClock(clk.Now)}, opts...)...)
	return s, clk, createJob(t, s, "bf-test", planned, ShardBuckets)
}

// createJob creates a job document of the given shard layout: ShardBuckets as NewJob does, 0
// for a job created before shard_layout existed.
func createJob(t *testing.T, s *Store, id string, planned, layout int) string {
	t.Helper()
	job := &Job{ID: id, Source: "youtube_analytics", Spec: "{}", Planned: planned, APICallsEstimate: planned, ShardLayout: layout}
	if created, _, err := s.CreateJob(t.Context(), job); err != nil || !created {
		t.Fatalf("CreateJob() = %v, %v, want created", created, err)
	}
	return job.ID
}

func ref(i int) ShardRef { return ShardRef{Index: i, Shard: fmt.Sprintf("video=v/%03d", i)} }

func counts(t *testing.T, s *Store, job string) Counts {
	t.Helper()
	st, err := s.Status(t.Context(), job)
	if err != nil {
		t.Fatalf("Status() = %v", err)
	}
	return st.Counts
}

func TestCreateJobTwiceReturnsTheExistingJob(t *testing.T) {
	s, _, _ := newStore(t, 5)
	// The sources are registered by the external tests' import of sourceset, linked into the
	// same test binary.
	spec, err := ParseSpec([]byte(storeSpecBody), Limits{Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	p, err := spec.Plan()
	if err != nil {
		t.Fatal(err)
	}
	job := NewJob(spec, p)
	if created, _, err := s.CreateJob(t.Context(), job); err != nil || !created {
		t.Fatalf("CreateJob(new) = %v, %v, want created", created, err)
	}
	created, existing, err := s.CreateJob(t.Context(), NewJob(spec, p))
	if err != nil || created || existing == nil {
		t.Fatalf("CreateJob(same spec) = %v, %v, %v, want the existing job", created, existing, err)
	}
	if diff := cmp.Diff(job, existing); diff != "" {
		t.Errorf("existing job mismatch (-created +existing):\n%s", diff)
	}
	back, err := existing.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if back.ID() != job.ID {
		t.Errorf("LoadSpec().ID() = %s, want %s", back.ID(), job.ID)
	}
	if _, err := s.GetJob(t.Context(), "bf-missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetJob(missing) = %v, want ErrNotFound", err)
	}
}

func TestOutcomeExactlyOnceUnderConcurrency(t *testing.T) {
	s, _, job := newStore(t, 3)
	const deliveries = 20
	var wg sync.WaitGroup
	firsts := make([]bool, deliveries)
	errs := make([]error, deliveries)
	start := make(chan struct{})
	for i := range deliveries {
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				firsts[i], errs[i] = s.RecordSuccess(t.Context(), job, ref(0), 7, 1)
			} else {
				firsts[i], errs[i] = s.RecordFailure(t.Context(), job, ref(0), "quota", 1)
			}
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i := range deliveries {
		if errs[i] != nil {
			t.Errorf("delivery %d: error = %v", i, errs[i])
		}
		if firsts[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("deliveries that recorded first = %d, want 1", winners)
	}
	got := counts(t, s, job)
	if got.Succeeded+got.Failed != 1 || got.APICalls != 1 || (got.Succeeded == 1 && got.Rows != 7) {
		t.Errorf("counts after %d concurrent deliveries = %+v, want one outcome with its rows and 1 API call", deliveries, got)
	}
}

func TestOutcomeTransitions(t *testing.T) {
	s, _, job := newStore(t, 10)
	ctx := t.Context()
	steps := []struct {
		name      string
		do        func() (bool, error)
		wantFirst bool
	}{
		{"success", func() (bool, error) { return s.RecordSuccess(ctx, job, ref(0), 5, 1) }, true},
		{"duplicate success", func() (bool, error) { return s.RecordSuccess(ctx, job, ref(0), 5, 1) }, false},
		{"failure after success", func() (bool, error) { return s.RecordFailure(ctx, job, ref(0), "x", 1) }, false},
		{"retrying", func() (bool, error) { return true, s.RecordRetrying(ctx, job, ref(1), "503", 2) }, true},
		{"retrying again", func() (bool, error) { return true, s.RecordRetrying(ctx, job, ref(1), "503", 1) }, true},
		{"success after retrying", func() (bool, error) { return s.RecordSuccess(ctx, job, ref(1), 3, 1) }, true},
		{"retrying after success", func() (bool, error) { return true, s.RecordRetrying(ctx, job, ref(1), "503", 1) }, true},
		{"retrying then failure", func() (bool, error) { return true, s.RecordRetrying(ctx, job, ref(2), "503", 1) }, true},
		{"failure", func() (bool, error) { return s.RecordFailure(ctx, job, ref(2), "400 badRequest", 1) }, true},
		{"still retrying", func() (bool, error) { return true, s.RecordRetrying(ctx, job, ref(3), "503", 1) }, true},
		{"cancelled", func() (bool, error) { return s.RecordCancelled(ctx, job, ref(4)) }, true},
		{"success after cancel", func() (bool, error) { return s.RecordSuccess(ctx, job, ref(4), 1, 1) }, false},
	}
	for _, st := range steps {
		first, err := st.do()
		if err != nil || first != st.wantFirst {
			t.Errorf("%s: first, err = %v, %v, want %v, nil", st.name, first, err, st.wantFirst)
		}
	}
	// API calls: 1 (shard 0) + 2+1+1 (shard 1) + 1+1 (shard 2) + 1 (shard 3). The retrying call on
	// the succeeded shard 1 is a no-op.
	want := Counts{Planned: 10, Succeeded: 2, Failed: 1, Retrying: 1, Cancelled: 1, Rows: 8, APICalls: 8}
	if diff := cmp.Diff(want, counts(t, s, job)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
}

func TestResetFailed(t *testing.T) {
	s, _, job := newStore(t, 10)
	ctx := t.Context()
	for _, i := range []int{2, 5, 7} {
		if _, err := s.RecordFailure(ctx, job, ref(i), "boom", 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RecordSuccess(ctx, job, ref(1), 1, 1); err != nil {
		t.Fatal(err)
	}
	failed, err := s.FailedShards(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{2, 5, 7}, failed); diff != "" {
		t.Errorf("FailedShards() mismatch (-want +got):\n%s", diff)
	}
	// 1 succeeded and 9 never ran: only 2 and 5 move.
	n, err := s.ResetFailed(ctx, job, []int{1, 2, 5, 9})
	if err != nil || n != 2 {
		t.Errorf("ResetFailed() = %d, %v, want 2, nil", n, err)
	}
	n, err = s.ResetFailed(ctx, job, []int{2, 5})
	if err != nil || n != 0 {
		t.Errorf("ResetFailed() again = %d, %v, want 0 (nothing failed any more)", n, err)
	}
	if first, err := s.RecordSuccess(ctx, job, ref(2), 4, 1); err != nil || !first {
		t.Errorf("RecordSuccess(reset shard) = %v, %v, want first", first, err)
	}
	want := Counts{Planned: 10, Succeeded: 2, Failed: 1, Rows: 5, APICalls: 5}
	if diff := cmp.Diff(want, counts(t, s, job)); diff != "" {
		t.Errorf("counts mismatch (-want +got):\n%s", diff)
	}
	j, err := s.GetJob(ctx, job)
	if err != nil || j.Retries != 2 || j.State != JobRunning {
		t.Errorf("job after two retries = %+v, %v, want retries 2, running", j, err)
	}
}

func TestStatus(t *testing.T) {
	s, clk, job := newStore(t, 10)
	ctx := t.Context()
	st, err := s.Status(ctx, job)
	if err != nil || st.State != JobPlanning {
		t.Fatalf("Status() of a new job = %+v, %v, want planning", st, err)
	}
	// Enqueued counts ranges once: a retried expansion's second count is a no-op.
	for _, r := range []Range{{0, 6}, {6, 10}, {0, 6}} {
		if _, err := s.RecordEnqueued(ctx, job, r); err != nil {
			t.Fatal(err)
		}
	}
	if first, err := s.RecordEnqueued(ctx, job, Range{6, 10}); err != nil || first {
		t.Errorf("RecordEnqueued(a counted range) = %v, %v; want false, nil", first, err)
	}
	clk.Advance(10 * time.Second)
	for i := range 3 {
		if _, err := s.RecordSuccess(ctx, job, ref(i), 2, 1); err != nil {
			t.Fatal(err)
		}
	}
	for i, reason := range []string{"404 notFound", "400 badRequest", "404 notFound"} {
		if _, err := s.RecordFailure(ctx, job, ref(3+i), reason, 1); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(10 * time.Second)
	st, err = s.Status(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	want := &Status{
		JobID: job, State: JobRunning,
		Counts:     Counts{Planned: 10, Enqueued: 10, Succeeded: 3, Failed: 3, Rows: 6, APICalls: 6},
		RatePerSec: 0.3, ETA: 13 * time.Second, ETASeconds: 13, // 4 left at 6 per 20 s
		Failures: []FailureGroup{
			{Cause: "404 notFound", Reason: "404 notFound", Count: 2, Shards: []string{"video=v/003", "video=v/005"}},
			{Cause: "400 badRequest", Reason: "400 badRequest", Count: 1, Shards: []string{"video=v/004"}},
		},
		CreatedAt: created, UpdatedAt: created.Add(10 * time.Second), SweptAt: created,
	}
	if diff := cmp.Diff(want, st, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Status() mismatch (-want +got):\n%s", diff)
	}

	for i := 6; i < 10; i++ {
		if _, err := s.RecordSuccess(ctx, job, ref(i), 0, 1); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := s.Status(ctx, job); st.State != JobDoneWithFailures || st.ETA != 0 {
		t.Errorf("Status() with every task finished = %s, ETA %v, want done_with_failures, 0", st.State, st.ETA)
	}
	if err := s.Block(ctx, job, "OAuth token revoked"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Status(ctx, job); st.State != JobBlocked || st.Blocked != "OAuth token revoked" {
		t.Errorf("Status() after Block = %s %q, want blocked with the reason", st.State, st.Blocked)
	}
	if err := s.Cancel(ctx, job); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Status(ctx, job); st.State != JobCancelled {
		t.Errorf("Status() after Cancel = %s, want cancelled", st.State)
	}
}

func TestStatusDone(t *testing.T) {
	s, _, job := newStore(t, 2)
	if err := s.MarkRunning(t.Context(), job); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := s.RecordSuccess(t.Context(), job, ref(i), 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := s.Status(t.Context(), job); err != nil || st.State != JobDone {
		t.Errorf("Status() = %+v, %v, want done", st, err)
	}
}

func TestCountersSpread(t *testing.T) {
	const shards, tasks = 4, 20
	s, _, job := newStore(t, tasks, WithCounterShards(shards))
	for i := range tasks {
		if _, err := s.RecordSuccess(t.Context(), job, ref(i), 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	docs, err := s.jobRef(job).Collection("counters").Documents(t.Context()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != shards {
		t.Errorf("counter documents = %d, want %d", len(docs), shards)
	}
	for _, d := range docs {
		if v, _ := d.DataAt("succeeded"); v != int64(tasks/shards) {
			t.Errorf("counter %s succeeded = %v, want its share %d", d.Ref.ID, v, tasks/shards)
		}
	}
}

func TestRawSplitAndOverwrite(t *testing.T) {
	s, _, job := newStore(t, 1)
	ctx := t.Context()
	shard := "video=abc/2024-01-01..2024-01-01"
	big := [][]byte{bytes.Repeat([]byte("a"), 1_500_000), []byte(`{"rows":[]}`), bytes.Repeat([]byte("b"), 700_000)}
	if err := s.StoreRaw(ctx, job, shard, big); err != nil {
		t.Fatalf("StoreRaw(big) = %v", err)
	}
	if n := rawDocs(t, s, job); n != 3 {
		t.Errorf("raw documents after a 2.2 MB write = %d, want 3 parts", n)
	}
	got, err := s.LoadRaw(ctx, job, shard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(big, got); diff != "" {
		t.Errorf("LoadRaw() after the big write differs")
	}
	small := [][]byte{[]byte(`{"columnHeaders":[],"rows":[["2024-01-01",3]]}`)}
	if err := s.StoreRaw(ctx, job, shard, small); err != nil {
		t.Fatalf("StoreRaw(small) = %v", err)
	}
	if n := rawDocs(t, s, job); n != 1 {
		t.Errorf("raw documents after overwriting with a small write = %d, want 1 (stale parts deleted)", n)
	}
	got, err = s.LoadRaw(ctx, job, shard)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(small, got); diff != "" {
		t.Errorf("LoadRaw() after overwrite mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.LoadRaw(ctx, job, "video=other/x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("LoadRaw(never stored) = %v, want ErrNotFound", err)
	}
}

func rawDocs(t *testing.T, s *Store, job string) int {
	t.Helper()
	docs, err := s.jobRef(job).Collection("raw").Documents(t.Context()).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return len(docs)
}

// storeSpecBody is a valid spec of a registered source.
const storeSpecBody = `{"source":"youtube_analytics","youtube_analytics":{"video_ids":["b","a"],"metrics":["views","likes"],"dimensions":["day"],"start":"2024-01-01","end":"2025-12-30","chunk":"day","currency":"USD"}}`
