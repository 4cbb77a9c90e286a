package backfill

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A job document's swept_at is when a sweep last looked at the job. It orders the scheduled
// sweep's rotation (ActiveJobs: longest unswept first, so every active job is reached however
// many there are) and spaces the sweeps of status calls (ClaimSweepTurn: one per interval, not
// one per call). It is set when the job is created; job documents written before it existed
// have none and are found by a scan of the active jobs (legacyActiveJobs).
//
// The rotation's query filters state with `in` and orders by swept_at, which production answers
// only from a composite index (state, swept_at), declared in terraform/firestore.tf: a query
// that filters or orders on a second field needs one
// (https://cloud.google.com/firestore/docs/concepts/index-overview). A document lacking an
// indexed field is in no index on it and so never returned by such a query
// (https://firebase.google.com/docs/firestore/query-data/index-overview: "A document is included
// in the index only if it has an indexed value set for every field used in the index"), which
// is why documents without swept_at need the scan.

// SweepStateCollection holds the sweep's own bookkeeping: the scan's cursor (legacyScanDoc).
const SweepStateCollection = "backfill_sweep"

// legacyScanDoc remembers where the scan for job documents without swept_at continues.
const legacyScanDoc = "legacy_scan"

// activeStates are the stored states of jobs a sweep looks at.
var activeStates = []string{JobPlanning, JobRunning, JobCancelled}

// ActiveJobs returns the ids of up to limit jobs whose stored state is planning, running or
// cancelled (their derived state may already be done, and a cancelled job may still have tasks
// lost without an outcome), those no sweep looked at for longest first: first any of one page of
// the scan for documents without swept_at, then the oldest swept_at. Callers record each job
// they looked at (RecordSwept), which moves it to the back of the rotation.
func (s *Store) ActiveJobs(ctx context.Context, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	ids, err := s.legacyActiveJobs(ctx, limit)
	if err != nil {
		return nil, err
	}
	if len(ids) >= limit {
		return ids, nil
	}
	docs, err := s.client.Collection(Collection).Where("state", "in", activeStates).OrderBy("swept_at", firestore.Asc).
		Select().Limit(limit - len(ids)).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("listing active backfill jobs by swept_at: %w", err)
	}
	for _, d := range docs {
		ids = append(ids, d.Ref.ID)
	}
	return ids, nil
}

// legacyActiveJobs reads the next page (up to limit) of active jobs in document id order, from
// where the previous call stopped (wrapping at the end), and returns those without swept_at.
// Each call reads at most limit job documents and the cursor, so documents written before
// swept_at existed (or by an instance of an older version still running) are all reached within
// (active jobs / limit) scheduled sweeps, at a bounded cost per sweep.
func (s *Store) legacyActiveJobs(ctx context.Context, limit int) ([]string, error) {
	ref := s.client.Collection(SweepStateCollection).Doc(legacyScanDoc)
	var cur struct {
		After string `firestore:"after"`
	}
	snap, err := ref.Get(ctx)
	switch {
	case status.Code(err) == codes.NotFound:
	case err != nil:
		return nil, fmt.Errorf("reading the sweep's scan cursor: %w", err)
	default:
		if err := snap.DataTo(&cur); err != nil {
			return nil, fmt.Errorf("decoding the sweep's scan cursor: %w", err)
		}
	}
	q := s.client.Collection(Collection).Where("state", "in", activeStates).OrderBy(firestore.DocumentID, firestore.Asc).
		Select("swept_at").Limit(limit)
	if cur.After != "" {
		q = q.StartAfter(cur.After)
	}
	docs, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("scanning active backfill jobs for documents without swept_at: %w", err)
	}
	var ids []string
	for _, d := range docs {
		if _, err := d.DataAt("swept_at"); err != nil { // absent
			ids = append(ids, d.Ref.ID)
		}
	}
	next := ""
	if len(docs) == limit {
		next = docs[len(docs)-1].Ref.ID
	}
	if next != cur.After {
		if _, err := ref.Set(ctx, map[string]any{"after": next, "at": s.now().UTC()}); err != nil {
			return nil, fmt.Errorf("moving the sweep's scan cursor: %w", err)
		}
	}
	return ids, nil
}

// RecordSwept stores that a sweep looked at the job now (swept_at), leaving updated_at alone.
func (s *Store) RecordSwept(ctx context.Context, id string) error {
	_, err := s.jobRef(id).Update(ctx, []firestore.Update{{Path: "swept_at", Value: s.now().UTC()}})
	if status.Code(err) == codes.NotFound {
		return fmt.Errorf("recording the sweep of backfill job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("recording the sweep of backfill job %s: %w", id, err)
	}
	return nil
}

// ClaimSweepTurn claims the job's next sweep for the caller when no sweep looked at it within
// every: it moves swept_at to now, preconditioned on the job document being unchanged since it
// was read, so that of status calls racing for the same turn exactly one gets it (claimed true).
func (s *Store) ClaimSweepTurn(ctx context.Context, id string, every time.Duration) (claimed bool, err error) {
	snap, err := s.jobRef(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return false, fmt.Errorf("reading backfill job %s to claim its sweep: %w", id, ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("reading backfill job %s to claim its sweep: %w", id, err)
	}
	var j struct {
		SweptAt time.Time `firestore:"swept_at"`
	}
	if err := snap.DataTo(&j); err != nil {
		return false, fmt.Errorf("decoding backfill job %s to claim its sweep: %w", id, err)
	}
	now := s.now().UTC()
	if !j.SweptAt.IsZero() && now.Sub(j.SweptAt) < every {
		return false, nil
	}
	_, err = s.jobRef(id).Update(ctx, []firestore.Update{{Path: "swept_at", Value: now}}, firestore.LastUpdateTime(snap.UpdateTime))
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.FailedPrecondition, codes.NotFound:
		return false, nil
	default:
		return false, fmt.Errorf("claiming the sweep of backfill job %s: %w", id, err)
	}
}
