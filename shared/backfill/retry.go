package backfill

import (
	"context"
	"fmt"
	"sync"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
)

// resetParallelism is how many shards ResetShards resets at once: one transaction each, on
// different documents, so they do not contend.
const resetParallelism = 32

// PendingShards returns the indexes of the job's shards that a retry moved back to pending and
// that have no outcome since: their retry task may never have been created (the request that
// reset them died, the queue refused), so a retry enqueues them again under the same names.
func (s *Store) PendingShards(ctx context.Context, job string) ([]int, error) {
	return s.shardsIn(ctx, job, ShardPending)
}

func (s *Store) shardsIn(ctx context.Context, job, state string) ([]int, error) {
	docs, err := s.jobRef(job).Collection("shards").Where("state", "==", state).Select("index").Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("listing %s shards of backfill job %s: %w", state, job, err)
	}
	out := make([]int, 0, len(docs))
	for _, d := range docs {
		v, err := d.DataAt("index")
		if err != nil {
			return nil, fmt.Errorf("reading index of shard %s of backfill job %s: %w", d.Ref.ID, job, err)
		}
		n, _ := v.(int64)
		out = append(out, int(n))
	}
	return out, nil
}

// PagedShard is a shard ShardsPage listed: its index and stored state.
type PagedShard struct {
	Index int
	State string
}

// ShardsPage returns up to limit of the job's shards whose state is one of states, in shard id
// order from after the id after ("" from the first), and the id of the last one returned (""
// when none): the next page starts after it. A retry walks failed and pending shards this way,
// a page per request, so its memory does not grow with the job. A filter on one field, ordered
// by document id, is answered from the single-field index Firestore keeps for the field by
// default (https://cloud.google.com/firestore/docs/concepts/index-overview, "Single-field
// indexes"), as legacyActiveJobs' scan is: no composite index is needed.
func (s *Store) ShardsPage(ctx context.Context, job string, states []string, after string, limit int) (shards []PagedShard, last string, err error) {
	q := s.jobRef(job).Collection("shards").Where("state", "in", states).OrderBy(firestore.DocumentID, firestore.Asc)
	if after != "" {
		q = q.StartAfter(after)
	}
	docs, err := q.Select("index", "state").Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, "", fmt.Errorf("listing %v shards of backfill job %s after %q: %w", states, job, after, err)
	}
	shards = make([]PagedShard, 0, len(docs))
	for _, d := range docs {
		v, err := d.DataAt("index")
		if err != nil {
			return nil, "", fmt.Errorf("reading index of shard %s of backfill job %s: %w", d.Ref.ID, job, err)
		}
		n, _ := v.(int64)
		st, _ := d.DataAt("state")
		state, _ := st.(string)
		shards = append(shards, PagedShard{Index: int(n), State: state})
		last = d.Ref.ID
	}
	return shards, last, nil
}

// CountShards counts the job's shards whose state is one of states with an aggregation query:
// Firestore counts them from the index and answers one number, billing one read per up to
// 1,000 index entries (https://cloud.google.com/firestore/docs/query-data/aggregation-queries),
// so the count costs no memory per shard.
func (s *Store) CountShards(ctx context.Context, job string, states []string) (int, error) {
	q := s.jobRef(job).Collection("shards").Where("state", "in", states)
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, fmt.Errorf("counting %v shards of backfill job %s: %w", states, job, err)
	}
	v, ok := res["n"]
	if !ok {
		return 0, fmt.Errorf("counting %v shards of backfill job %s: no count in the answer", states, job)
	}
	switch n := v.(type) {
	case int64:
		return int(n), nil
	case *firestorepb.Value:
		return int(n.GetIntegerValue()), nil
	}
	return 0, fmt.Errorf("counting %v shards of backfill job %s: a count of type %T", states, job, v)
}

// NextRetry counts a new retry of the job and moves it back to running; it returns the retry
// count, which names the generation of the retried tasks.
func (s *Store) NextRetry(ctx context.Context, job string) (int, error) {
	if err := s.updateJob(ctx, job, "counting a retry",
		firestore.Update{Path: "retries", Value: firestore.Increment(1)},
		firestore.Update{Path: "state", Value: JobRunning}); err != nil {
		return 0, err
	}
	j, err := s.GetJob(ctx, job)
	if err != nil {
		return 0, err
	}
	return j.Retries, nil
}

// ResetShards moves those of the given shards that failed back to pending (others are left
// alone), resetParallelism at a time, and returns how many it moved. Safe to repeat.
func (s *Store) ResetShards(ctx context.Context, job string, indexes []int) (int, error) {
	var (
		mu    sync.Mutex
		n     int
		first error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, resetParallelism)
	for _, i := range indexes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			moved, err := s.record(ctx, job, ShardRef{Index: i}, outcome{state: ShardPending})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			if moved {
				n++
			}
		})
	}
	wg.Wait()
	return n, first
}
