package backfill

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// concurrently runs do n times at once and returns how many reported first, and any errors.
func concurrently(n int, do func() (bool, error)) (firsts int, errs []error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			first, err := do()
			mu.Lock()
			defer mu.Unlock()
			if first {
				firsts++
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return firsts, errs
}

// TestSameOutcomeRecordedFiftyTimesAtOnce is a task delivered 50 times at once, every delivery
// reporting the same outcome: it is counted once, and exactly one delivery is told it was first.
func TestSameOutcomeRecordedFiftyTimesAtOnce(t *testing.T) {
	const deliveries = 50
	tests := []struct {
		name string
		// prior is what happened to the task before the deliveries (nil: nothing).
		prior  func(s *Store, job string) error
		record func(s *Store, job string) (bool, error)
		want   Counts
	}{
		{
			name:   "success, first report of the task",
			record: func(s *Store, job string) (bool, error) { return s.RecordSuccess(t.Context(), job, ref(0), 7, 1) },
			want:   Counts{Planned: 1, Succeeded: 1, Rows: 7, APICalls: 1},
		},
		{
			name:   "success after a retrying report",
			prior:  func(s *Store, job string) error { return s.RecordRetrying(t.Context(), job, ref(0), "503", 1) },
			record: func(s *Store, job string) (bool, error) { return s.RecordSuccess(t.Context(), job, ref(0), 7, 1) },
			want:   Counts{Planned: 1, Succeeded: 1, Rows: 7, APICalls: 2},
		},
		{
			name:   "failure on the last attempt after a retrying report",
			prior:  func(s *Store, job string) error { return s.RecordRetrying(t.Context(), job, ref(0), "503", 1) },
			record: func(s *Store, job string) (bool, error) { return s.RecordFailure(t.Context(), job, ref(0), "503", 1) },
			want:   Counts{Planned: 1, Failed: 1, APICalls: 2},
		},
		{
			name:   "cancelled",
			record: func(s *Store, job string) (bool, error) { return s.RecordCancelled(t.Context(), job, ref(0)) },
			want:   Counts{Planned: 1, Cancelled: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, job := newStore(t, 1)
			if tt.prior != nil {
				if err := tt.prior(s, job); err != nil {
					t.Fatalf("prior report: %v", err)
				}
			}
			firsts, errs := concurrently(deliveries, func() (bool, error) { return tt.record(s, job) })
			for _, err := range errs {
				t.Errorf("delivery error: %v", err)
			}
			if firsts != 1 {
				t.Errorf("deliveries told they were first = %d, want 1", firsts)
			}
			if diff := cmp.Diff(tt.want, counts(t, s, job)); diff != "" {
				t.Errorf("counts after %d identical deliveries (-want +got):\n%s", deliveries, diff)
			}
		})
	}
}

// TestRetryingReportedFiftyTimesAtOnce: every transient attempt really made its API calls, so
// all 50 count theirs, while the task is counted retrying once; then a success moves it.
func TestRetryingReportedFiftyTimesAtOnce(t *testing.T) {
	const reports = 50
	s, _, job := newStore(t, 1)
	_, errs := concurrently(reports, func() (bool, error) {
		return false, s.RecordRetrying(t.Context(), job, ref(0), "503", 1)
	})
	for _, err := range errs {
		t.Errorf("RecordRetrying: %v", err)
	}
	if diff := cmp.Diff(Counts{Planned: 1, Retrying: 1, APICalls: reports}, counts(t, s, job)); diff != "" {
		t.Errorf("counts after %d retrying reports (-want +got):\n%s", reports, diff)
	}
	if first, err := s.RecordSuccess(t.Context(), job, ref(0), 3, 1); err != nil || !first {
		t.Errorf("RecordSuccess after retrying = %v, %v, want first", first, err)
	}
	if diff := cmp.Diff(Counts{Planned: 1, Succeeded: 1, Rows: 3, APICalls: reports + 1}, counts(t, s, job)); diff != "" {
		t.Errorf("counts after the success (-want +got):\n%s", diff)
	}
}

// TestSuccessWithRawRecordedFiftyTimesAtOnce: 50 deliveries of one task, each with its own raw
// pages, record success at once. The raw pages share the outcome's commit, so exactly one
// delivery counts, and the raw results are that delivery's: no loser's raw write landed.
func TestSuccessWithRawRecordedFiftyTimesAtOnce(t *testing.T) {
	const deliveries = 50
	tests := []struct {
		name  string
		prior func(s *Store, job string) error
		// size is each delivery's page size. Not above rawPartSize: parts beyond the first are
		// written before the commit, and deliveries racing on them can leave part 0 naming a
		// write whose part 1 another overwrote (LoadRaw then says so), as before this change.
		size int
		want Counts
	}{
		{name: "first report", size: 100, want: Counts{Planned: 1, Succeeded: 1, Rows: 2, APICalls: 1}},
		{name: "after a retrying report", size: 100,
			prior: func(s *Store, job string) error { return s.RecordRetrying(t.Context(), job, ref(0), "503", 1) },
			want:  Counts{Planned: 1, Succeeded: 1, Rows: 2, APICalls: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, job := newStore(t, 1)
			if tt.prior != nil {
				if err := tt.prior(s, job); err != nil {
					t.Fatalf("prior report: %v", err)
				}
			}
			pages := make([][]byte, deliveries)
			firsts := make([]bool, deliveries)
			var mu sync.Mutex
			next := 0
			n, errs := concurrently(deliveries, func() (bool, error) {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				page := make([]byte, tt.size)
				copy(page, fmt.Sprintf("delivery %02d", i))
				pages[i] = page
				w := s.NewRawWriter(job, ref(0).Shard)
				if err := w.Add(t.Context(), page); err != nil {
					return false, err
				}
				first, err := s.RecordSuccessWithRaw(t.Context(), job, ref(0), 2, 1, w)
				firsts[i] = first
				return first, err
			})
			for _, err := range errs {
				t.Errorf("delivery error: %v", err)
			}
			if n != 1 {
				t.Fatalf("deliveries told they were first = %d, want 1", n)
			}
			if diff := cmp.Diff(tt.want, counts(t, s, job)); diff != "" {
				t.Errorf("counts after %d deliveries (-want +got):\n%s", deliveries, diff)
			}
			got, err := s.LoadRaw(t.Context(), job, ref(0).Shard)
			if err != nil {
				t.Fatalf("LoadRaw() = %v", err)
			}
			winner := slices.Index(firsts, true)
			if len(got) != 1 || !bytes.Equal(got[0], pages[winner]) {
				head := func(b []byte) string { return string(b[:min(len(b), 11)]) }
				gotHead := "none"
				if len(got) > 0 {
					gotHead = head(got[0])
				}
				t.Errorf("raw results = %d pages starting %q, want the counted delivery's one page %q", len(got), gotHead, head(pages[winner]))
			}
		})
	}
}

// TestShardState is what the worker reads on a redelivery: pending until an outcome is
// recorded, then the outcome.
func TestShardState(t *testing.T) {
	s, _, job := newStore(t, 2)
	ctx := t.Context()
	var got []string
	read := func() {
		st, err := s.ShardState(ctx, job, 0)
		if err != nil {
			t.Fatalf("ShardState() = %v", err)
		}
		got = append(got, fmt.Sprintf("%s final=%t", st, Final(st)))
	}
	read()
	if err := s.RecordRetrying(ctx, job, ref(0), "503", 1); err != nil {
		t.Fatal(err)
	}
	read()
	if _, err := s.RecordSuccess(ctx, job, ref(0), 1, 1); err != nil {
		t.Fatal(err)
	}
	read()
	want := []string{"pending final=false", "retrying final=false", "succeeded final=true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
}

// TestAmbiguousCommit: only a final outcome whose commit the client gave up on (its deadline,
// an unavailable server) while the caller's context lives is settled by reading the shard again.
func TestAmbiguousCommit(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	deadline := status.Error(codes.DeadlineExceeded, "context deadline exceeded")
	tests := []struct {
		name  string
		ctx   context.Context
		err   error
		state string
		want  bool
	}{
		{"success, client deadline", live, deadline, ShardSucceeded, true},
		{"failure, unavailable", live, status.Error(codes.Unavailable, "x"), ShardFailed, true},
		{"cancelled, client deadline", live, deadline, ShardCancelled, true},
		{"retrying: its repeat would count its calls twice", live, deadline, ShardRetrying, false},
		{"reset", live, deadline, ShardPending, false},
		{"the caller's context ended", done, deadline, ShardSucceeded, false},
		{"a refused write", live, status.Error(codes.InvalidArgument, "x"), ShardSucceeded, false},
	}
	for _, tt := range tests {
		if got := ambiguous(tt.ctx, tt.err, outcome{state: tt.state}); got != tt.want {
			t.Errorf("%s: ambiguous() = %t, want %t", tt.name, got, tt.want)
		}
	}
}
