package rankings

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestShardPickerSpreadsWritesOverTime checks the rule that keeps each counter document within
// Firestore's sustained rate of about one write a second: a commit takes the lowest shard that
// no commit holds and none wrote in the last shardInterval; when every free shard was written
// that recently, the one written longest ago.
func TestShardPickerSpreadsWritesOverTime(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	type step struct {
		at      time.Duration // after t0
		release bool          // the commit ends before the next step
	}
	tests := []struct {
		name   string
		shards int
		steps  []step
		want   []int
	}{
		{"one after another within a second spread", 4, []step{{0, true}, {100 * time.Millisecond, true}, {200 * time.Millisecond, true}}, []int{0, 1, 2}},
		{"a second later the lowest again", 4, []step{{0, true}, {100 * time.Millisecond, true}, {1100 * time.Millisecond, true}}, []int{0, 1, 0}},
		{"every shard written lately: the one written longest ago", 2,
			[]step{{0, true}, {100 * time.Millisecond, true}, {200 * time.Millisecond, true}, {300 * time.Millisecond, true}}, []int{0, 1, 0, 1}},
		{"overlapping commits never share a shard", 3, []step{{0, false}, {0, false}, {2 * time.Second, false}}, []int{0, 1, 2}},
		{"more commits than shards share the least held", 1, []step{{0, false}, {0, false}}, []int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newShardPicker(tt.shards)
			var got []int
			for _, s := range tt.steps {
				shard := p.take(t0.Add(s.at))
				got = append(got, shard)
				if s.release {
					p.release(shard)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("shards taken (-want +got):\n%s", diff)
			}
		})
	}
}
