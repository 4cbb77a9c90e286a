package backfill

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Shard states, as stored in backfills/{job}/shards/{id}.
const (
	ShardPending   = "pending"
	ShardRetrying  = "retrying"
	ShardSucceeded = "succeeded"
	ShardFailed    = "failed"
	ShardCancelled = "cancelled"
)

// Counter fields, summed over the counter shards by Status.
const (
	cSucceeded = "succeeded"
	cFailed    = "failed"
	cRetrying  = "retrying"
	cCancelled = "cancelled"
	cRows      = "rows"
	cAPICalls  = "api_calls"
)

// shardDoc is one task's outcome.
type shardDoc struct {
	Index     int       `firestore:"index"`
	Shard     string    `firestore:"shard"`
	State     string    `firestore:"state"`
	Attempts  int       `firestore:"attempts"`
	Reason    string    `firestore:"reason,omitempty"`
	Rows      int       `firestore:"rows"`
	APICalls  int       `firestore:"api_calls"`
	UpdatedAt time.Time `firestore:"updated_at"`
}

// outcome is one reported result of a task attempt.
type outcome struct {
	state    string // ShardSucceeded, ShardFailed, ShardRetrying, ShardCancelled, or ShardPending for a reset
	reason   string
	rows     int
	apiCalls int
}

// apply moves cur by o and returns the counter deltas, or ok false when o changes nothing:
// succeeded, failed and cancelled are terminal (a duplicate delivery is a no-op), and only a
// reset moves failed back to pending.
func apply(cur *shardDoc, o outcome) (deltas map[string]int, ok bool) {
	deltas = map[string]int{}
	was := cur.State
	if o.state == ShardPending { // reset
		if was != ShardFailed {
			return nil, false
		}
		deltas[cFailed] = -1
		cur.State, cur.Reason = ShardPending, ""
		return deltas, true
	}
	if was != ShardPending && was != ShardRetrying {
		return nil, false
	}
	if was == ShardRetrying && o.state != ShardRetrying {
		deltas[cRetrying] = -1
	}
	switch o.state {
	case ShardSucceeded:
		deltas[cSucceeded] = 1
		deltas[cRows] = o.rows
		cur.Rows, cur.Reason = o.rows, ""
	case ShardFailed:
		deltas[cFailed] = 1
		cur.Reason = o.reason
	case ShardRetrying:
		if was == ShardPending {
			deltas[cRetrying] = 1
		}
		cur.Reason = o.reason
	case ShardCancelled:
		deltas[cCancelled] = 1
	}
	if o.state != ShardCancelled {
		cur.Attempts++
		cur.APICalls += o.apiCalls
		deltas[cAPICalls] = o.apiCalls
	}
	cur.State = o.state
	return deltas, true
}

// shardRef is task index's outcome document, named by the job's layout (shardid.go).
func (s *Store) shardRef(ctx context.Context, job string, index int) (*firestore.DocumentRef, error) {
	l, err := s.layout(ctx, job)
	if err != nil {
		return nil, err
	}
	return s.jobRef(job).Collection("shards").Doc(l.id(index)), nil
}

// counterRef picks the counter document of a task: index modulo n spreads a job's outcomes
// evenly over the counters (tasks run roughly in index order), and all deliveries of one task
// hit the same counter, which keeps contention on one task off the others.
func (s *Store) counterRef(job string, index int) *firestore.DocumentRef {
	return s.jobRef(job).Collection("counters").Doc(strconv.Itoa(index % s.counters))
}

// record applies o to the task's shard document and its counter in one commit whose
// precondition makes it exactly once (see commitOutcome in record.go), so a task delivered
// twice, or twice at once, is counted once.
func (s *Store) record(ctx context.Context, job string, ref ShardRef, o outcome) (first bool, err error) {
	return s.recordWith(ctx, job, ref, o, nil)
}

// recordWith is record with the caller's writes in the outcome's commit.
func (s *Store) recordWith(ctx context.Context, job string, ref ShardRef, o outcome, with func(*firestore.WriteBatch)) (first bool, err error) {
	first, err = s.commitOutcome(ctx, job, ref, o, with)
	if err != nil {
		return false, fmt.Errorf("recording %s of shard %q of backfill job %s: %w", o.state, ref.Shard, job, err)
	}
	return first, nil
}

// RecordSuccess records that the task succeeded with rows rows and apiCalls API calls. first
// is false when the task already had a final outcome (a duplicate delivery): nothing changes.
func (s *Store) RecordSuccess(ctx context.Context, job string, ref ShardRef, rows, apiCalls int) (first bool, err error) {
	return s.record(ctx, job, ref, outcome{state: ShardSucceeded, rows: rows, apiCalls: apiCalls})
}

// RecordSuccessWithRaw records that the task succeeded, as RecordSuccess, and makes its raw
// pages (written so far by raw) the shard's raw results in the same commit: part 0, which names
// the write LoadRaw reads, goes in the outcome's commit, so a task costs one commit, and a
// duplicate delivery, whose outcome commit fails its precondition, writes no raw either. Parts
// beyond the first (pages over 900 KB) are written before, each in its own commit; they are read
// only through a part 0 that names their write.
func (s *Store) RecordSuccessWithRaw(ctx context.Context, job string, ref ShardRef, rows, apiCalls int, raw *RawWriter) (first bool, err error) {
	if raw == nil {
		return s.RecordSuccess(ctx, job, ref, rows, apiCalls)
	}
	if err := raw.flush(ctx); err != nil {
		return false, err
	}
	return s.recordWith(ctx, job, ref, outcome{state: ShardSucceeded, rows: rows, apiCalls: apiCalls}, raw.addHead)
}

// ShardState returns the task's recorded state: ShardPending when nothing was recorded yet.
// The worker reads it only on a redelivery, to skip a task that already has a final outcome.
func (s *Store) ShardState(ctx context.Context, job string, index int) (string, error) {
	ref, err := s.shardRef(ctx, job, index)
	if err != nil {
		return "", err
	}
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return ShardPending, nil
	}
	if err != nil {
		return "", fmt.Errorf("reading shard %d of backfill job %s: %w", index, job, err)
	}
	st, err := snap.DataAt("state")
	if err != nil {
		return "", fmt.Errorf("reading the state of shard %d of backfill job %s: %w", index, job, err)
	}
	state, _ := st.(string)
	return state, nil
}

// Final says whether a shard state is an outcome no report changes (only a reset does).
func Final(state string) bool {
	return state == ShardSucceeded || state == ShardFailed || state == ShardCancelled
}

// RecordFailure records that the task failed for good (the failure is permanent or the
// retries are spent). first is false when the task already had a final outcome.
func (s *Store) RecordFailure(ctx context.Context, job string, ref ShardRef, reason string, apiCalls int) (first bool, err error) {
	return s.record(ctx, job, ref, outcome{state: ShardFailed, reason: reason, apiCalls: apiCalls})
}

// RecordRetrying records a transient failure: the task stays retrying until it succeeds or
// fails. Every call counts its API calls (each attempt really made them); the retrying count
// moves only on the first. A task with a final outcome is left alone.
func (s *Store) RecordRetrying(ctx context.Context, job string, ref ShardRef, reason string, apiCalls int) error {
	_, err := s.record(ctx, job, ref, outcome{state: ShardRetrying, reason: reason, apiCalls: apiCalls})
	return err
}

// RecordCancelled records that the task was skipped because the job was cancelled.
func (s *Store) RecordCancelled(ctx context.Context, job string, ref ShardRef) (first bool, err error) {
	return s.record(ctx, job, ref, outcome{state: ShardCancelled})
}

// FailedShards returns the indexes of the job's failed tasks, in order, for a retry.
func (s *Store) FailedShards(ctx context.Context, job string) ([]int, error) {
	docs, err := s.jobRef(job).Collection("shards").Where("state", "==", ShardFailed).Select("index").Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("listing failed shards of backfill job %s: %w", job, err)
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

// ResetFailed moves the given failed tasks back to pending (other tasks are left alone), counts
// the retry on the job and moves it back to running; it returns how many tasks it reset. The
// caller then enqueues those tasks again.
func (s *Store) ResetFailed(ctx context.Context, job string, indexes []int) (int, error) {
	n := 0
	for _, i := range indexes {
		first, err := s.record(ctx, job, ShardRef{Index: i}, outcome{state: ShardPending})
		if err != nil {
			return n, err
		}
		if first {
			n++
		}
	}
	if err := s.updateJob(ctx, job, "counting a retry",
		firestore.Update{Path: "retries", Value: firestore.Increment(1)},
		firestore.Update{Path: "state", Value: JobRunning}); err != nil {
		return n, err
	}
	return n, nil
}
