package backfill

import (
	"context"
	"fmt"
	"sync"

	"cloud.google.com/go/firestore"
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
