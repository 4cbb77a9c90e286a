package rankings

import (
	"sync"
	"time"
)

// shardInterval is how often a Store writes one counter document at most while it has a shard
// to spare. Firestore cannot update one document at an unlimited rate
// (https://firebase.google.com/docs/firestore/solutions/counters: "See Updates to a single
// document"); its guidance is a sustained rate of about one write a second per document, and
// contention on a document raises latency
// (https://cloud.google.com/firestore/native/docs/resolve-latency).
//
// The rule that follows, for RANKINGS_SHARDS: a Store's commits per second spread over as many
// shards of each bucket, so each counter document takes at most max(1, commits/s ÷ shards)
// writes a second. A commit carries up to MaxBatch (100) events, so an instance needs
// RANKINGS_SHARDS ≥ its events/s ÷ its events per commit: 16 shards hold 1 write/s per
// document up to 1,600 events/s per instance in full groups (UpdateRankings' instances share
// the rate: Pub/Sub push spreads it over them). A quiet instance writes shard 0 about once a
// second, so readers pay for more documents only when writers need them.
const shardInterval = time.Second

// shardPicker hands each commit of a Store the counter shard it writes: the lowest one that no
// other commit of the Store holds (concurrent commits never write one document, which
// Firestore would serialise) and that none wrote in the last shardInterval; when every free
// shard was written that recently, the free one written longest ago. Its mutex guards
// everything in it.
type shardPicker struct {
	mu     sync.Mutex
	shards int
	busy   map[int]int       // commits holding each shard: more than one only when shards < InFlight
	last   map[int]time.Time // when each shard was last taken
}

func newShardPicker(shards int) *shardPicker {
	return &shardPicker{shards: shards, busy: map[int]int{}, last: map[int]time.Time{}}
}

// take returns the shard for a commit starting at now; release gives it back.
func (p *shardPicker) take(now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pick, oldest := -1, -1
	for shard := range p.shards {
		if p.busy[shard] > 0 {
			continue
		}
		if last, ok := p.last[shard]; !ok || now.Sub(last) >= shardInterval {
			pick = shard
			break
		}
		if oldest < 0 || p.last[shard].Before(p.last[oldest]) {
			oldest = shard
		}
	}
	if pick < 0 {
		pick = oldest
	}
	if pick < 0 { // every shard held (shards < InFlight): the least held
		pick = 0
		for shard := range p.shards {
			if p.busy[shard] < p.busy[pick] {
				pick = shard
			}
		}
	}
	p.busy[pick]++
	p.last[pick] = now
	return pick
}

func (p *shardPicker) release(shard int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy[shard]--
}
