package backfill

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
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
