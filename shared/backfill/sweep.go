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
	snap, err := s.shardRef(job, index).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading shard %d of backfill job %s: %w", index, job, err)
	}
	v, _ := snap.DataAt("state")
	return finalState(v), nil
}

func (s *Store) sweepRef(job string, index int) *firestore.DocumentRef {
	return s.jobRef(job).Collection("sweeps").Doc(shardDocID(index))
}

// ReadSweepMark returns the shard's sweep mark (Attempts 0 when no sweep touched it).
func (s *Store) ReadSweepMark(ctx context.Context, job string, index int) (SweepMark, error) {
	snap, err := s.sweepRef(job, index).Get(ctx)
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
	ref := s.sweepRef(job, index)
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

// JobCancelledSwept is the stored state of a cancelled job whose every task a sweep found
// accounted for; it is still reported cancelled (its cancelled flag stays set).
const JobCancelledSwept = "cancelled_swept"

// MarkEnded stores an ended job's derived state (done or done_with_failures, or
// JobCancelledSwept for a cancelled job with every task accounted for) so that ActiveJobs stops
// listing it. Status still derives the state from the counts, so this changes
// nothing it reports; the write is preconditioned on the job document being unchanged since read
// as planning, running or cancelled, so a :retry that moves the job back to running at the same time wins.
func (s *Store) MarkEnded(ctx context.Context, id, state string) error {
	snap, err := s.jobRef(id).Get(ctx)
	if err != nil {
		return fmt.Errorf("reading backfill job %s to mark it %s: %w", id, state, err)
	}
	if v, _ := snap.DataAt("state"); v != JobPlanning && v != JobRunning && v != JobCancelled {
		return nil
	}
	_, err = s.jobRef(id).Update(ctx, []firestore.Update{{Path: "state", Value: state}, {Path: "updated_at", Value: s.now().UTC()}},
		firestore.LastUpdateTime(snap.UpdateTime))
	if c := status.Code(err); c != codes.OK && c != codes.FailedPrecondition {
		return fmt.Errorf("marking backfill job %s %s: %w", id, state, err)
	}
	return nil
}
