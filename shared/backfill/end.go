package backfill

import (
	"context"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A job's end is decided once, by MarkEnded: a compare-and-set on the job document that moves
// its stored state from planning, running or cancelled to the ended one, counts the end (ends),
// keeps what it ended with (end) and marks its notice pending (notice_pending), all in one
// write. Of sweeps that see the same end, exactly one wins the write and publishes the notice;
// MarkNotified clears notice_pending once the notice is published. A process that dies between
// the two leaves the notice pending, and the scheduled sweep publishes it again
// (PendingNotices): a notice is published at least once per end, and a duplicate carries the
// same end (same seq, so the same notice id).
//
// PendingNotices filters on one field with equality, which Firestore answers from the
// single-field index it keeps for every field by default
// (https://cloud.google.com/firestore/docs/concepts/index-overview, "Single-field indexes"):
// no composite index is needed.

// JobCancelledSwept is the stored state of a cancelled job whose every task a sweep found
// accounted for; it is still reported cancelled (its cancelled flag stays set).
const JobCancelledSwept = "cancelled_swept"

// End is one end of a job, as MarkEnded stored it in the job document (field end).
type End struct {
	JobID string `firestore:"job_id" json:"job_id"`
	// Seq numbers the job's ends from 1: a :retry that reopens the job and a second end give 2.
	Seq int `firestore:"seq" json:"seq"`
	// Generation is the job's retry count when it ended (0: no :retry ran failed tasks again).
	Generation int `firestore:"generation" json:"generation"`
	// State is the reported state it ended in: done, done_with_failures or cancelled.
	State     string    `firestore:"state" json:"state"`
	Source    string    `firestore:"source" json:"source"`
	Counts    Counts    `firestore:"counts" json:"counts"`
	CreatedAt time.Time `firestore:"created_at" json:"created_at"`
	EndedAt   time.Time `firestore:"ended_at" json:"ended_at"`
}

// reportedEnd maps a stored ended state to the state Status reports.
func reportedEnd(stored string) string {
	if stored == JobCancelledSwept {
		return JobCancelled
	}
	return stored
}

// MarkEnded stores that the job ended in state (done or done_with_failures, or
// JobCancelledSwept for a cancelled job with every task accounted for), as st (its status, just
// read) shows it, so that ActiveJobs stops listing it; Status still derives the state from the
// counts, so this changes nothing it reports. It returns the end when this call decided it, nil
// when the job is no longer planning, running or cancelled (it ended already) or changed since
// st was read: a :retry (its retry count moved) or a cancel in between wins, and the next sweep
// looks again. The write is preconditioned on the job document being unchanged since this call
// read it, so of callers that race for the same end exactly one gets it.
func (s *Store) MarkEnded(ctx context.Context, st *Status, state string) (*End, error) {
	id := st.JobID
	snap, err := s.jobRef(id).Get(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading backfill job %s to mark it %s: %w", id, state, err)
	}
	var j Job
	if err := snap.DataTo(&j); err != nil {
		return nil, fmt.Errorf("decoding backfill job %s to mark it %s: %w", id, state, err)
	}
	if j.State != JobPlanning && j.State != JobRunning && j.State != JobCancelled {
		return nil, nil
	}
	// st was read before snap: a :retry in between moved the retry count, a cancel the flag.
	if j.Retries != st.Retries || j.Cancelled != (st.State == JobCancelled) {
		return nil, nil
	}
	// Firestore keeps microseconds (https://cloud.google.com/firestore/docs/concepts/data-types,
	// "Date and time"): the end returned is the end stored, so a notice published from either
	// is the same.
	now := s.now().UTC().Truncate(time.Microsecond)
	end := &End{JobID: id, Seq: j.Ends + 1, Generation: j.Retries, State: reportedEnd(state), Source: j.Source,
		Counts: st.Counts, CreatedAt: j.CreatedAt, EndedAt: now}
	_, err = s.jobRef(id).Update(ctx, []firestore.Update{
		{Path: "state", Value: state}, {Path: "updated_at", Value: now},
		{Path: "ends", Value: end.Seq}, {Path: "end", Value: end}, {Path: "notice_pending", Value: true},
	}, firestore.LastUpdateTime(snap.UpdateTime))
	switch status.Code(err) {
	case codes.OK:
		return end, nil
	case codes.FailedPrecondition:
		return nil, nil
	default:
		return nil, fmt.Errorf("marking backfill job %s %s: %w", id, state, err)
	}
}

// errNoticeStale ends MarkNotified's transaction when the job's notice is no longer e's.
var errNoticeStale = errors.New("notice no longer pending")

// MarkNotified records that e's notice was published (notified_at) and clears notice_pending,
// unless the job has ended again since (a newer end's notice stays pending) or it was already
// recorded.
func (s *Store) MarkNotified(ctx context.Context, e *End) error {
	ref := s.jobRef(e.JobID)
	err := s.client.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil {
			return err
		}
		var j Job
		if err := snap.DataTo(&j); err != nil {
			return err
		}
		if !j.NoticePending || j.Ends != e.Seq {
			return errNoticeStale
		}
		return tx.Update(ref, []firestore.Update{{Path: "notice_pending", Value: false}, {Path: "notified_at", Value: s.now().UTC()}})
	})
	if err != nil && !errors.Is(err, errNoticeStale) {
		return fmt.Errorf("recording the notice of end %d of backfill job %s: %w", e.Seq, e.JobID, err)
	}
	return nil
}

// PendingNotices returns the latest ends of up to limit jobs whose notice is still to be
// published: MarkEnded decided them and no MarkNotified followed.
func (s *Store) PendingNotices(ctx context.Context, limit int) ([]*End, error) {
	if limit <= 0 {
		return nil, nil
	}
	docs, err := s.client.Collection(Collection).Where("notice_pending", "==", true).Select("end").Limit(limit).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("listing backfill jobs whose end notice is pending: %w", err)
	}
	out := make([]*End, 0, len(docs))
	for _, d := range docs {
		var j struct {
			End *End `firestore:"end"`
		}
		if err := d.DataTo(&j); err != nil {
			return nil, fmt.Errorf("decoding the end of backfill job %s: %w", d.Ref.ID, err)
		}
		if j.End == nil {
			return nil, fmt.Errorf("backfill job %s has a pending notice but no end", d.Ref.ID)
		}
		out = append(out, j.End)
	}
	return out, nil
}
