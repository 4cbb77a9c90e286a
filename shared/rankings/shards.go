package rankings

import (
	"sync"
	"time"
)

// shardPicker hands each commit of a Store the counter shard it writes: the lowest one no
// other commit of the Store holds, so concurrent commits never write one counter document
// (Firestore would serialise them), and a bucket gets no more of this instance's documents
// than its commits overlapped. Its mutex guards everything in it.
type shardPicker struct {
	mu     sync.Mutex
	shards int
	busy   map[int]int // commits holding each shard: more than one only when shards < InFlight
}

func newShardPicker(shards int) *shardPicker {
	return &shardPicker{shards: shards, busy: map[int]int{}}
}

// take returns the shard for a commit starting at now; release gives it back.
func (p *shardPicker) take(now time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	shard := 0
	for p.busy[shard] > 0 && shard < p.shards-1 {
		shard++
	}
	p.busy[shard]++
	return shard
}

func (p *shardPicker) release(shard int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy[shard]--
}
