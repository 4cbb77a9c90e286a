package backfill

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"
)

// seedShards writes the shard documents of indexes [0, planned) except those in missing, in the
// given state (default succeeded), in batches.
func seedShards(t *testing.T, s *Store, job string, planned int, missing map[int]bool, states map[int]string) {
	t.Helper()
	b := s.client.BulkWriter(t.Context())
	for i := range planned {
		if missing[i] {
			continue
		}
		state := states[i]
		if state == "" {
			state = ShardSucceeded
		}
		ref, err := s.shardRef(t.Context(), job, i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Set(ref, shardDoc{Index: i, Shard: fmt.Sprint(i), State: state}); err != nil {
			t.Fatalf("seeding shard %d: %v", i, err)
		}
	}
	b.End()
}

// The walk finds, in order from its start and wrapping, the shards without a final outcome,
// those without a document included, and stops at max indexes or at its read budget; it reads
// only pages of ShardPageSize documents. The job is one created before shard_layout (ids
// t<index>, walked in index order): its documents still read.
func TestUnfinishedFrom(t *testing.T) {
	const planned = 2*ShardPageSize + 100
	s, _, _ := newStore(t, planned)
	job := createJob(t, s, "bf-legacy", planned, 0)
	missing := map[int]bool{5: true, 600: true, planned - 1: true}
	seedShards(t, s, job, planned, missing, map[int]string{3: ShardPending, 7: ShardRetrying, 1050: ShardRetrying, 9: ShardFailed, 10: ShardCancelled})
	docs := planned - len(missing)
	for _, tc := range []struct {
		name               string
		job                string
		planned            int
		start, max, budget int
		want               Walk
	}{
		{"all", job, planned, 0, 10, 10_000, Walk{Indexes: []int{3, 5, 7, 600, 1050, planned - 1}, Read: docs}},
		{"stops at max", job, planned, 0, 2, 10_000, Walk{Indexes: []int{3, 5}, Read: 6}},
		{"wraps", job, planned, 1000, 3, 10_000, Walk{Indexes: []int{1050, planned - 1, 3}, Read: 99 + 4}},
		{"stops at the read budget", job, planned, 0, 10, ShardPageSize, Walk{Indexes: []int{3, 5, 7}, Read: ShardPageSize}},
		{"read budget one past a page", job, planned, 0, 10, ShardPageSize + 1, Walk{Indexes: []int{3, 5, 7}, Read: ShardPageSize + 1}},
		{"a missing last shard costs no read", job, planned, planned - 1, 1, 10_000, Walk{Indexes: []int{planned - 1}, Read: 0}},
		{"start past the end wraps", job, planned, planned + 3, 1, 10_000, Walk{Indexes: []int{3}, Read: 1}},
		{"no documents yet", createJob(t, s, "bf-none", 1_000_000, 0), 1_000_000, 999_998, 3, 10_000, Walk{Indexes: []int{999_998, 999_999, 0}, Read: 0}},
		{"no tasks", job, 0, 0, 3, 10_000, Walk{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.UnfinishedFrom(t.Context(), tc.job, tc.planned, tc.start, tc.max, tc.budget)
			if err != nil {
				t.Fatalf("UnfinishedFrom() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("UnfinishedFrom(%d, start %d, max %d, budget %d) mismatch (-want +got):\n%s", tc.planned, tc.start, tc.max, tc.budget, diff)
			}
		})
	}
}

// Of status calls racing for a job's sweep turn, exactly one claims it; the next turn comes
// after the interval, and a job document without swept_at (an older version's) is due at once.
func TestClaimSweepTurn(t *testing.T) {
	s, clk, job := newStore(t, 10)
	const every = 15 * time.Minute
	claim := func() int {
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				ok, err := s.ClaimSweepTurn(t.Context(), job, every)
				if err != nil {
					t.Errorf("ClaimSweepTurn() = %v", err)
				}
				if ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		return int(wins.Load())
	}
	if n := claim(); n != 0 {
		t.Errorf("claims at creation = %d, want 0 (swept_at is the creation time)", n)
	}
	clk.Advance(every)
	if n := claim(); n != 1 {
		t.Errorf("claims once due = %d, want 1", n)
	}
	clk.Advance(every - time.Second)
	if n := claim(); n != 0 {
		t.Errorf("claims a second before the next turn = %d, want 0", n)
	}
	if _, err := s.jobRef(job).Update(t.Context(), []firestore.Update{{Path: "swept_at", Value: firestore.Delete}}); err != nil {
		t.Fatal(err)
	}
	if n := claim(); n != 1 {
		t.Errorf("claims of a job without swept_at = %d, want 1", n)
	}
	if j, err := s.GetJob(t.Context(), job); err != nil || !j.SweptAt.Equal(clk.Now()) || !j.UpdatedAt.Equal(j.CreatedAt) {
		t.Errorf("job after the claim = %+v, %v; want swept_at now and updated_at untouched", j, err)
	}
}

// In the current layout the walk goes in document id order (bucket by bucket), finds every
// unfinished shard, those without a document included, wraps, and stops at its read budget.
func TestUnfinishedFromBuckets(t *testing.T) {
	const planned = 2*ShardPageSize + 100
	s, _, job := newStore(t, planned)
	missing := map[int]bool{5: true, 600: true, 64: true, planned - 1: true}
	states := map[int]string{3: ShardPending, 7: ShardRetrying, 1050: ShardRetrying, 9: ShardFailed, 10: ShardCancelled, 128: ShardPending}
	seedShards(t, s, job, planned, missing, states)
	// idOrder is the tasks sorted by document id, worked out apart from pos and index.
	idOrder := make([]int, planned)
	for i := range idOrder {
		idOrder[i] = i
	}
	slices.SortFunc(idOrder, func(a, b int) int { return strings.Compare(ShardDocID(a), ShardDocID(b)) })
	unfinishedFrom := func(start int) []int {
		at := slices.Index(idOrder, start)
		var out []int
		for _, i := range append(slices.Clone(idOrder[at:]), idOrder[:at]...) {
			if missing[i] || states[i] == ShardPending || states[i] == ShardRetrying {
				out = append(out, i)
			}
		}
		return out
	}
	docs := planned - len(missing)
	for _, tc := range []struct {
		name               string
		start, max, budget int
		want               []int
		wantRead           int
	}{
		{"all", 0, 100, 10_000, unfinishedFrom(0), docs},
		{"wraps from the middle", 1050, 100, 10_000, unfinishedFrom(1050), docs + 1}, // the wrap reads the start's page again
		{"stops at max", 0, 3, 10_000, unfinishedFrom(0)[:3], -1},
		{"a missing shard, the last of its bucket", planned - 1, 1, 10_000, []int{planned - 1}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.UnfinishedFrom(t.Context(), job, planned, tc.start, tc.max, tc.budget)
			if err != nil {
				t.Fatalf("UnfinishedFrom() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got.Indexes); diff != "" {
				t.Errorf("UnfinishedFrom(start %d, max %d) indexes mismatch (-want +got):\n%s", tc.start, tc.max, diff)
			}
			if tc.wantRead >= 0 && got.Read != tc.wantRead {
				t.Errorf("UnfinishedFrom(start %d, max %d) read %d, want %d", tc.start, tc.max, got.Read, tc.wantRead)
			}
		})
	}
}
