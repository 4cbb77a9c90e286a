package backfill

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// ShardPageSize is how many shard documents one query of a sweep's walk returns, and so all the
// walk holds at once: with only state selected a document costs about 2,600 bytes in the Go
// client, so a page is about 1.3 MB whatever the job's size (a listing of every shard held
// 2.6 GB for a job of 1,000,000 tasks, past Backfill's 512 MiB).
const ShardPageSize = 500

// Walk is what UnfinishedFrom found.
type Walk struct {
	// Indexes are the unfinished shards found, in walk order from the start index.
	Indexes []int
	// Read is the shard documents read: Firestore bills one read each.
	Read int
}

// UnfinishedFrom walks the job's shards in document id order from task start, wrapping at the
// end, and returns up to max indexes whose shard has no final outcome: no shard document yet
// (the layout maps id order to task order, shardid.go, so a task whose id falls between two
// documents read has none), or pending or retrying. It reads pages of ShardPageSize documents and
// stops once it has max indexes or has read readBudget documents, so its reads and memory are
// bounded by those, not by the job's size. A walk cut short by readBudget returns what it found;
// callers start the next walk elsewhere (a random index) to reach the rest.
func (s *Store) UnfinishedFrom(ctx context.Context, job string, planned, start, max, readBudget int) (Walk, error) {
	var w Walk
	if planned <= 0 || max <= 0 {
		return w, nil
	}
	l, err := s.layout(ctx, job)
	if err != nil {
		return w, err
	}
	start = l.pos(((start%planned)+planned)%planned, planned)
	for _, r := range [][2]int{{start, planned}, {0, start}} {
		done, err := s.walkRange(ctx, job, l, planned, r[0], r[1], max, readBudget, &w)
		if err != nil || done {
			return w, err
		}
	}
	return w, nil
}

// errWalkFull ends a walk that has its max indexes.
var errWalkFull = errors.New("walk full")

// walkRange walks the shards at positions [from, to) of id order into w; done reports that w is
// full or its reads spent.
func (s *Store) walkRange(ctx context.Context, job string, l shardLayout, planned, from, to, max, readBudget int, w *Walk) (done bool, err error) {
	add := func(p int) error { // errWalkFull once w has max: no further read
		w.Indexes = append(w.Indexes, l.index(p, planned))
		if len(w.Indexes) >= max {
			return errWalkFull
		}
		return nil
	}
	next := from // the first index not yet accounted for
	for next < to {
		// No more than the range can hold: with no end cursor (which would bound it too, but which
		// the emulator answers by reading the whole range) a page past the range's end reads
		// nothing it does not need.
		limit := min(ShardPageSize, readBudget-w.Read, to-next)
		if limit <= 0 || len(w.Indexes) >= max {
			return true, nil
		}
		it := s.jobRef(job).Collection("shards").Select("state").OrderBy(firestore.DocumentID, firestore.Asc).
			StartAt(l.id(l.index(next, planned))).Limit(limit).Documents(ctx)
		n, end, err := s.walkPage(it, l, planned, &next, to, w, add)
		it.Stop()
		if errors.Is(err, errWalkFull) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("walking shards [%d, %d) of backfill job %s: %w", next, to, job, err)
		}
		if n < limit || end { // no documents left in the range: the rest have none yet
			for ; next < to; next++ {
				if add(next) != nil {
					return true, nil
				}
			}
		}
	}
	return len(w.Indexes) >= max || w.Read >= readBudget, nil
}

// walkPage reads one page, adding the positions without a document before each document and
// the document's own when unfinished; it moves *next past the last document and returns how
// many it read, and end when it met a document at or past to (the range has no more).
func (s *Store) walkPage(it *firestore.DocumentIterator, l shardLayout, planned int, next *int, to int, w *Walk, add func(int) error) (n int, end bool, err error) {
	for {
		d, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return n, false, nil
		}
		if err != nil {
			return n, false, err
		}
		n++
		w.Read++
		i, ok := l.parse(d.Ref.ID)
		if !ok || i >= planned {
			continue // not a shard of this job's plan
		}
		i = l.pos(i, planned)
		if i < *next {
			continue
		}
		if i >= to {
			return n, true, nil
		}
		for ; *next < i; *next++ {
			if err := add(*next); err != nil {
				return n, false, err
			}
		}
		*next = i + 1
		if v, _ := d.DataAt("state"); !finalState(v) {
			if err := add(i); err != nil {
				return n, false, err
			}
		}
	}
}

// finalState reports whether a shard's stored state is a final outcome.
func finalState(v any) bool {
	return v == ShardSucceeded || v == ShardFailed || v == ShardCancelled
}
