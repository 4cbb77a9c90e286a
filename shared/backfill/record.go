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
func (s *Store) commitOutcome(ctx context.Context, job string, ref ShardRef, o outcome) (first bool, err error) {
	shard := s.shardRef(job, ref.Index)
	if o.state != ShardPending { // a reset applies only to an existing failed shard
		cur := shardDoc{Index: ref.Index, Shard: ref.Shard, State: ShardPending}
		if deltas, ok := apply(&cur, o); ok {
			err := s.commitShard(ctx, job, ref.Index, shard, &cur, deltas, time.Time{})
			if err == nil {
				return true, nil
			}
			if status.Code(err) != codes.AlreadyExists {
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
		err = s.commitShard(ctx, job, ref.Index, shard, &cur, deltas, read)
		switch status.Code(err) {
		case codes.OK:
			return true, nil
		case codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound, codes.Aborted:
			// Another report changed the shard since we read it; nothing of ours was written.
		default:
			return false, err
		}
		pause := wait/2 + rand.N(wait/2+1)
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(pause):
		}
		wait = min(2*wait, casMaxBackoff)
	}
	return false, errContended
}

// commitShard writes cur to the shard and deltas to the task's counter in one commit. A zero
// read creates the shard (it must not exist); otherwise the shard must still be at update time
// read.
func (s *Store) commitShard(ctx context.Context, job string, index int, shard *firestore.DocumentRef, cur *shardDoc,
	deltas map[string]int, read time.Time) error {
	now := s.now().UTC()
	cur.UpdatedAt = now
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
	counter := map[string]any{"updated_at": now}
	for k, v := range deltas {
		if v != 0 {
			counter[k] = firestore.Increment(v)
		}
	}
	b.Set(s.counterRef(job, index), counter, firestore.MergeAll)
	_, err := b.Commit(ctx)
	return err
}
