package backfill

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ShardsPage walks the shards of the given states a page at a time: every one is on exactly one
// page, whatever the page size, and a walk that starts again from a page's cursor finds the
// same rest. CountShards counts the same shards.
func TestShardsPageWalksEachShardOnce(t *testing.T) {
	const planned = 200
	s, _, job := newStore(t, planned)
	states := map[int]string{}
	want := map[int]string{}
	for i := range planned {
		switch {
		case i%7 == 0:
			states[i], want[i] = ShardFailed, ShardFailed
		case i%11 == 0:
			states[i], want[i] = ShardPending, ShardPending
		case i%13 == 0:
			states[i] = ShardRetrying
		}
	}
	seedShards(t, s, job, planned, map[int]bool{3: true, 4: true}, states)
	for _, size := range []int{1, 3, 10, 500} {
		got := map[int]string{}
		pages, after := 0, ""
		for {
			page, last, err := s.ShardsPage(t.Context(), job, []string{ShardFailed, ShardPending}, after, size)
			if err != nil {
				t.Fatalf("page size %d: ShardsPage(after %q) = %v", size, after, err)
			}
			if len(page) > size {
				t.Fatalf("page size %d: a page of %d", size, len(page))
			}
			if len(page) == 0 {
				if last != "" {
					t.Errorf("page size %d: an empty page's cursor = %q, want \"\"", size, last)
				}
				break
			}
			pages++
			for _, p := range page {
				if _, dup := got[p.Index]; dup {
					t.Errorf("page size %d: shard %d on two pages", size, p.Index)
				}
				got[p.Index] = p.State
			}
			// Resuming from the same cursor (a step delivered again) finds the same page.
			again, lastAgain, err := s.ShardsPage(t.Context(), job, []string{ShardFailed, ShardPending}, after, size)
			if err != nil || lastAgain != last || !cmp.Equal(again, page) {
				t.Errorf("page size %d: the page after %q read again = %v %q %v, want %v %q", size, after, again, lastAgain, err, page, last)
			}
			after = last
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("page size %d: shards walked mismatch (-want +got):\n%s", size, diff)
		}
		if wantPages := (len(want) + size - 1) / size; size < len(want) && pages != wantPages {
			t.Errorf("page size %d: %d pages, want %d", size, pages, wantPages)
		}
	}
	n, err := s.CountShards(t.Context(), job, []string{ShardFailed, ShardPending})
	if err != nil || n != len(want) {
		t.Errorf("CountShards() = %d, %v, want %d", n, err, len(want))
	}
}
