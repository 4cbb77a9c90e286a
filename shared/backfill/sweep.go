package backfill

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The sweep (run by the Backfill function: functions/backfill/sweep.go) ends jobs whose tasks
// died without an outcome. The store's part is below: which shards have no final outcome, and a
// per-shard sweep mark, backfills/{job}/sweeps/{t<index>}, counting how often a sweep
// re-enqueued the shard. The mark is moved by compare-and-set (create-if-absent, or update
// preconditioned on the update time read), so of two sweeps that saw the same mark exactly one
// wins (the caller creates the shard's next task, named by the count, before it claims).
// The mark lives in its own document, not the shard's, so that outcomes (record.go) never contend with sweeps.

// SweepMark is how often sweeps re-enqueued a shard, as read by ReadSweepMark.
type SweepMark struct {
	// Attempts is the number of tasks sweeps created for the shard; 0 when none did.
	Attempts int
	read     time.Time // update time of the mark read; zero when there was none
}

// Final reports whether the task's shard has a final outcome (succeeded, failed or cancelled).
func (s *Store) Final(ctx context.Context, job string, index int) (bool, error) {
	ref, err := s.shardRef(ctx, job, index)
	if err != nil {
		return false, err
	}
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading shard %d of backfill job %s: %w", index, job, err)
	}
	v, _ := snap.DataAt("state")
	return finalState(v), nil
}

// sweepRef is task index's sweep mark, named as its shard document.
func (s *Store) sweepRef(ctx context.Context, job string, index int) (*firestore.DocumentRef, error) {
	l, err := s.layout(ctx, job)
	if err != nil {
		return nil, err
	}
	return s.jobRef(job).Collection("sweeps").Doc(l.id(index)), nil
}

// ReadSweepMark returns the shard's sweep mark (Attempts 0 when no sweep touched it).
func (s *Store) ReadSweepMark(ctx context.Context, job string, index int) (SweepMark, error) {
	ref, err := s.sweepRef(ctx, job, index)
	if err != nil {
		return SweepMark{}, err
	}
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return SweepMark{}, nil
	}
	if err != nil {
		return SweepMark{}, fmt.Errorf("reading sweep mark of shard %d of backfill job %s: %w", index, job, err)
	}
	var m struct {
		Attempts int `firestore:"attempts"`
	}
	if err := snap.DataTo(&m); err != nil {
		return SweepMark{}, fmt.Errorf("decoding sweep mark of shard %d of backfill job %s: %w", index, job, err)
	}
	return SweepMark{Attempts: m.Attempts, read: snap.UpdateTime}, nil
}

// ClaimSweep moves the shard's mark from m (as read) to m.Attempts+1, only if no one moved it
// since: claimed false means another sweep did. Callers create the shard's task number
// m.Attempts+1 first, so that a mark read always names tasks that were created.
func (s *Store) ClaimSweep(ctx context.Context, job string, index int, m SweepMark) (claimed bool, err error) {
	ref, err := s.sweepRef(ctx, job, index)
	if err != nil {
		return false, err
	}
	doc := map[string]any{"index": index, "attempts": m.Attempts + 1, "at": s.now().UTC()}
	if m.read.IsZero() {
		_, err = ref.Create(ctx, doc)
	} else {
		_, err = ref.Update(ctx, []firestore.Update{
			{Path: "attempts", Value: m.Attempts + 1}, {Path: "at", Value: doc["at"]},
		}, firestore.LastUpdateTime(m.read))
	}
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.AlreadyExists, codes.FailedPrecondition, codes.NotFound:
		return false, nil
	default:
		return false, fmt.Errorf("claiming sweep %d of shard %d of backfill job %s: %w", m.Attempts+1, index, job, err)
	}
}
