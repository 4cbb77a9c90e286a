package backfill

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Tasks written in index order spread over ShardBuckets key ranges: any ShardBuckets consecutive
// tasks have ids of as many distinct prefixes (Firestore limits writes to lexicographically
// close ids, https://cloud.google.com/firestore/docs/best-practices, "Document IDs"; https://cloud.google.com/firestore/docs/solutions/shard-timestamp).
func TestShardIDsAreNotSequential(t *testing.T) {
	for _, from := range []int{0, 1, 999_937, 9_999_936} {
		prefixes := map[string]bool{}
		for i := from; i < from+ShardBuckets; i++ {
			id := ShardDocID(i)
			prefixes[id[:len("s00")]] = true
		}
		if len(prefixes) != ShardBuckets {
			t.Errorf("tasks [%d, %d) have ids of %d prefixes, want %d (e.g. %s, %s)", from, from+ShardBuckets, len(prefixes), ShardBuckets, ShardDocID(from), ShardDocID(from+1))
		}
	}
}

// id and parse are inverses in both layouts, and pos/index number the tasks [0, n) in id order
// (what the sweep's walk relies on), for sizes around the bucket count's multiples.
func TestShardLayoutOrder(t *testing.T) {
	for _, l := range []shardLayout{legacyLayout, currentLayout} {
		for _, n := range []int{0, 1, 2, 63, 64, 65, 127, 128, 129, 1000, 4097} {
			order := make([]int, n)
			for i := range order {
				order[i] = i
			}
			slices.SortFunc(order, func(a, b int) int { return strings.Compare(l.id(a), l.id(b)) })
			got := make([]int, n)
			for p := range n {
				got[p] = l.index(p, n)
				if q := l.pos(got[p], n); q != p {
					t.Errorf("layout %d, n %d: pos(index(%d)) = %d", l.buckets, n, p, q)
				}
			}
			if diff := cmp.Diff(order, got); diff != "" {
				t.Errorf("layout %d, n %d: index by position mismatch with id order (-want +got):\n%s", l.buckets, n, diff)
			}
			for i := range n {
				if back, ok := l.parse(l.id(i)); !ok || back != i {
					t.Errorf("layout %d: parse(id(%d) = %q) = %d, %v", l.buckets, i, l.id(i), back, ok)
				}
			}
		}
	}
	for _, id := range []string{"", "s", "s64-000000001", "sxx-000000001", "s01", "s01-x", "t000000001"} {
		if i, ok := currentLayout.parse(id); ok {
			t.Errorf("parse(%q) = %d, true; want false", id, i)
		}
	}
}

// A job created before shard_layout keeps its t<index> documents: an outcome already recorded
// there stays final (a duplicate delivery counts nothing), and new outcomes go to t<index> too.
// A new job writes s<bucket>-<quotient> ids.
func TestShardIDsOfOldAndNewJobs(t *testing.T) {
	s, _, newJob := newStore(t, 10)
	oldJob := createJob(t, s, "bf-old", 10, 0)
	ctx := t.Context()
	// What the old code wrote for task 7.
	if _, err := s.jobRef(oldJob).Collection("shards").Doc("t000000007").Create(ctx, shardDoc{Index: 7, Shard: "x", State: ShardSucceeded, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if first, err := s.RecordSuccess(ctx, oldJob, ref(7), 3, 1); err != nil || first {
		t.Errorf("RecordSuccess(old job, 7) = %v, %v; want false (recorded by the old code)", first, err)
	}
	for _, job := range []string{oldJob, newJob} {
		if first, err := s.RecordSuccess(ctx, job, ref(8), 3, 1); err != nil || !first {
			t.Errorf("RecordSuccess(%s, 8) = %v, %v; want true", job, first, err)
		}
	}
	if st, err := s.ShardState(ctx, oldJob, 7); err != nil || st != ShardSucceeded {
		t.Errorf("ShardState(old job, 7) = %q, %v; want succeeded", st, err)
	}
	ids := func(job string) []string {
		docs, err := s.jobRef(job).Collection("shards").Documents(context.Background()).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range docs {
			out = append(out, d.Ref.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"t000000007", "t000000008"}, ids(oldJob)); diff != "" {
		t.Errorf("old job's shard ids mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{fmt.Sprintf("s08-%09d", 0)}, ids(newJob)); diff != "" {
		t.Errorf("new job's shard ids mismatch (-want +got):\n%s", diff)
	}
}
