package backfill

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// JobSummary is one job as GET /backfills lists it.
type JobSummary struct {
	JobID     string    `json:"job_id"`
	Source    string    `json:"source"`
	State     string    `json:"state"`
	Counts    Counts    `json:"counts"`
	CreatedAt time.Time `json:"created_at"`
}

// ListJobs returns up to limit jobs created before before (the zero time: the newest), newest
// first, each with its derived state and counts; next is the created_at to pass as before for
// the following page, zero when there is none.
func (s *Store) ListJobs(ctx context.Context, limit int, before time.Time) (jobs []JobSummary, next time.Time, err error) {
	q := s.client.Collection(Collection).OrderBy("created_at", firestore.Desc).Limit(limit + 1)
	if !before.IsZero() {
		q = q.StartAfter(before)
	}
	docs, err := q.Documents(ctx).GetAll()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("listing backfill jobs: %w", err)
	}
	for i, d := range docs {
		if i == limit {
			next = jobs[len(jobs)-1].CreatedAt
			break
		}
		st, err := s.Status(ctx, d.Ref.ID)
		if err != nil {
			return nil, time.Time{}, err
		}
		var j Job
		if err := d.DataTo(&j); err != nil {
			return nil, time.Time{}, fmt.Errorf("decoding backfill job %s: %w", d.Ref.ID, err)
		}
		jobs = append(jobs, JobSummary{JobID: j.ID, Source: j.Source, State: st.State, Counts: st.Counts, CreatedAt: j.CreatedAt})
	}
	return jobs, next, nil
}
