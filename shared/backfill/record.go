package backfill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// casAttempts bounds how often one outcome is re-read and re-committed after another report of
// the same task changed its shard document in between. Every lost round means another report
// won one, so only a task reported this many times at once can run out.
const casAttempts = 100

// casBackoff is the first pause before re-reading a contended shard; it doubles up to casMaxBackoff,
// jittered so that racing reports do not retry in step.
const (
	casBackoff    = 2 * time.Millisecond
	casMaxBackoff = 200 * time.Millisecond
)

// errContended means a task's shard document kept changing under casAttempts reports.
var errContended = errors.New("shard document changed by other reports on every attempt")

// commitOutcome records o without a read-write transaction. The shard document and the counter
// increments are written in one commit (atomic: all or nothing), and the shard write carries a
// precondition, so a commit made on a stale view of the shard fails whole and counts nothing:
//
//   - The first report of a task (nearly all of them: a first-attempt success) creates the shard
//     document blind, with a must-not-exist precondition: one commit, no read.
//   - When it exists (a retried task, a duplicate delivery, a reset), the shard is read outside any
//     transaction, apply decides, and the update is preconditioned on the update time that was
//     read: a compare-and-set. A report that loses the race re-reads and sees the winner's state,
//     so a duplicate of a final outcome becomes a no-op (first false).
//
// No document is locked across round trips (a transaction's reads lock the shard and counter
// until its commit), and a commit retried after an ambiguous error cannot count twice: its
// precondition fails the second time.
//
// with, when not nil, adds writes that must land with the outcome and only with it (a
// successful task's raw pages, see RecordSuccessWithRaw): they share the commit, so they are
// written once, by the report that counts.
func (s *Store) commitOutcome(ctx context.Context, job string, ref ShardRef, o outcome, with func(*firestore.WriteBatch)) (first bool, err error) {
	shard, err := s.shardRef(ctx, job, ref.Index)
	if err != nil {
		return false, err
	}
	if o.state != ShardPending { // a reset applies only to an existing failed shard
		cur := shardDoc{Index: ref.Index, Shard: ref.Shard, State: ShardPending}
		if deltas, ok := apply(&cur, o); ok {
			err := s.commitShard(ctx, job, ref.Index, shard, &cur, deltas, time.Time{}, with)
			if err == nil {
				return true, nil
			}
			if status.Code(err) != codes.AlreadyExists && !ambiguous(ctx, err, o) {
				return false, err
			}
		}
	}
	wait := casBackoff
	for range casAttempts {
		snap, err := shard.Get(ctx)
		cur := shardDoc{Index: ref.Index, Shard: ref.Shard, State: ShardPending}
		var read time.Time // zero: create
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return false, fmt.Errorf("reading shard %s: %w", shard.ID, err)
		default:
			if err := snap.DataTo(&cur); err != nil {
				return false, fmt.Errorf("decoding shard %s: %w", shard.ID, err)
			}
			read = snap.UpdateTime
		}
		deltas, ok := apply(&cur, o)
		if !ok {
			return false, nil
		}
		err = s.commitShard(ctx, job, ref.Index, shard, &cur, deltas, read, with)
		switch status.Code(err) {
		case codes.OK:
			return true, nil
		case codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound:
			// Another report changed the shard since we read it; nothing of ours was written.
		default:
			if !ambiguous(ctx, err, o) {
				return false, err
			}
		}
		if err := pause(ctx, &wait); err != nil {
			return false, err
		}
	}
	return false, errContended
}

// ambiguous says whether a failed commit of o may have been applied anyway and is safe to
// settle by reading the shard again: the client gave up (its 60 s Commit deadline, seen when
// the emulator queues commits on its lock manager) while our own context is alive. Such a commit
// may still land, but the next one carries a precondition that fails if it did, and a final
// outcome that landed makes the re-read a no-op (first false): counted once, and the delivery is
// answered 2xx instead of being run, and its rows appended, again. A retrying report is not
// settled so: its repeat would count its API calls twice.
func ambiguous(ctx context.Context, err error, o outcome) bool {
	final := o.state == ShardSucceeded || o.state == ShardFailed || o.state == ShardCancelled
	return final && ctx.Err() == nil && (status.Code(err) == codes.DeadlineExceeded || status.Code(err) == codes.Unavailable)
}

// pause waits a jittered *wait, then doubles *wait up to casMaxBackoff.
func pause(ctx context.Context, wait *time.Duration) error {
	d := *wait/2 + rand.N(*wait/2+1)
	*wait = min(2**wait, casMaxBackoff)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// commitBatch commits the batch that build returns, building and committing it again while the
// commit is aborted: Firestore (and its emulator, under load: "Transaction lock timeout") aborts a
// commit that could not take its documents' locks in time, and an aborted commit wrote nothing,
// so committing it again cannot count twice. Unlike RunTransaction, a batch commit is not retried
// by the client.
func (s *Store) commitBatch(ctx context.Context, build func() *firestore.WriteBatch) error {
	wait := casBackoff
	for attempt := 1; ; attempt++ {
		_, err := build().Commit(ctx)
		if status.Code(err) != codes.Aborted || attempt == casAttempts {
			return err
		}
		if err := pause(ctx, &wait); err != nil {
			return err
		}
	}
}

// commitShard writes cur to the shard and deltas to the task's counter in one commit. A zero
// read creates the shard (it must not exist); otherwise the shard must still be at update time
// read. with adds the caller's writes to the same commit.
func (s *Store) commitShard(ctx context.Context, job string, index int, shard *firestore.DocumentRef, cur *shardDoc,
	deltas map[string]int, read time.Time, with func(*firestore.WriteBatch)) error {
	now := s.now().UTC()
	cur.UpdatedAt = now
	counter := map[string]any{"updated_at": now}
	for k, v := range deltas {
		if v != 0 {
			counter[k] = firestore.Increment(v)
		}
	}
	return s.commitBatch(ctx, func() *firestore.WriteBatch {
		b := s.client.Batch()
		if read.IsZero() {
			b.Create(shard, cur)
		} else {
			var reason any = cur.Reason
			if cur.Reason == "" {
				reason = firestore.Delete
			}
			b.Update(shard, []firestore.Update{
				{Path: "index", Value: cur.Index}, {Path: "shard", Value: cur.Shard}, {Path: "state", Value: cur.State},
				{Path: "attempts", Value: cur.Attempts}, {Path: "reason", Value: reason}, {Path: "rows", Value: cur.Rows},
				{Path: "api_calls", Value: cur.APICalls}, {Path: "updated_at", Value: now},
			}, firestore.LastUpdateTime(read))
		}
		b.Set(s.counterRef(job, index), counter, firestore.MergeAll)
		if with != nil {
			with(b)
		}
		return b
	})
}
