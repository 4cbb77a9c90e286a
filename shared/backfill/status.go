package backfill

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Reported job states, beyond the stored ones (planning, running, cancelled, blocked).
const (
	JobDone             = "done"
	JobDoneWithFailures = "done_with_failures"
)

// failuresRead bounds the failed shard documents Status reads to group failures by reason;
// Counts.Failed is exact whatever this is.
const failuresRead = 1000

// shardsPerGroup is how many shard names a FailureGroup lists.
const shardsPerGroup = 10

// Counts are a job's task counts: Planned and Enqueued from the job, the rest summed over the
// counter shards.
type Counts struct {
	Planned   int `json:"planned" firestore:"planned"`
	Enqueued  int `json:"enqueued" firestore:"enqueued"`
	Succeeded int `json:"succeeded" firestore:"succeeded"`
	Failed    int `json:"failed" firestore:"failed"`
	Retrying  int `json:"retrying" firestore:"retrying"`
	Cancelled int `json:"cancelled" firestore:"cancelled"`
	Rows      int `json:"rows" firestore:"rows"`
	APICalls  int `json:"api_calls" firestore:"api_calls"`
}

// FailureGroup is the failed tasks that share a cause.
type FailureGroup struct {
	// Cause is the failures' reason with what varies between tasks (URLs, ids, dates) masked:
	// the error's class and status.
	Cause string `json:"cause"`
	// Reason is one full example of the group's reasons.
	Reason string `json:"reason"`
	Count  int    `json:"count"`
	// Shards names the first few of them (up to 10).
	Shards []string `json:"shards"`
}

// Status is what GET /backfills/{id} reports.
type Status struct {
	JobID string `json:"job_id"`
	// State is planning, running, done, done_with_failures, cancelled or blocked.
	State  string `json:"state"`
	Counts Counts `json:"counts"`
	// RatePerSec is tasks finished per second since the job was created.
	RatePerSec float64 `json:"rate_per_sec"`
	// ETA is the time left at that rate; zero when unknown or finished.
	ETA time.Duration `json:"-"`
	// ETASeconds is ETA in seconds, for JSON readers.
	ETASeconds float64        `json:"eta_s"`
	Failures   []FailureGroup `json:"failures,omitempty"`
	// FailuresSampled is true when more failed tasks exist than Failures was built from.
	FailuresSampled bool   `json:"failures_sampled,omitempty"`
	Blocked         string `json:"blocked,omitempty"`
	// Quota is the API's latest quota report (GA4's propertyQuota), nil for sources without.
	Quota     *QuotaReport `json:"quota,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	// SweptAt is when a sweep last looked at the job (absent for jobs stored before it existed).
	SweptAt time.Time `json:"swept_at,omitzero"`
	// Retries is how many :retry calls ran failed tasks again: the generation of the newest tasks.
	Retries int `json:"retries"`
}

// Status returns the job's progress: exact counts, the derived state, rate and ETA, and its
// failures grouped by cause (causeOf).
func (s *Store) Status(ctx context.Context, job string) (*Status, error) {
	j, err := s.GetJob(ctx, job)
	if err != nil {
		return nil, err
	}
	st := &Status{JobID: j.ID, Blocked: j.Blocked, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, SweptAt: j.SweptAt,
		Retries: j.Retries, Counts: Counts{Planned: j.Planned}}
	counters, err := s.jobRef(job).Collection("counters").Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("reading counters of backfill job %s: %w", job, err)
	}
	for _, d := range counters {
		var c struct {
			Succeeded int       `firestore:"succeeded"`
			Failed    int       `firestore:"failed"`
			Retrying  int       `firestore:"retrying"`
			Cancelled int       `firestore:"cancelled"`
			Rows      int       `firestore:"rows"`
			APICalls  int       `firestore:"api_calls"`
			Enqueued  int       `firestore:"enqueued"`
			UpdatedAt time.Time `firestore:"updated_at"`
		}
		if err := d.DataTo(&c); err != nil {
			return nil, fmt.Errorf("decoding counter %s of backfill job %s: %w", d.Ref.ID, job, err)
		}
		st.Counts.Succeeded += c.Succeeded
		st.Counts.Failed += c.Failed
		st.Counts.Retrying += c.Retrying
		st.Counts.Cancelled += c.Cancelled
		st.Counts.Rows += c.Rows
		st.Counts.APICalls += c.APICalls
		st.Counts.Enqueued += c.Enqueued
		if c.UpdatedAt.After(st.UpdatedAt) {
			st.UpdatedAt = c.UpdatedAt
		}
	}

	finished := st.Counts.Succeeded + st.Counts.Failed + st.Counts.Cancelled
	switch {
	case j.State == JobCancelled || j.Cancelled:
		st.State = JobCancelled
	case j.State == JobBlocked:
		st.State = JobBlocked
	// Done is decided by the outcomes alone: a job whose every task finished is done even if
	// an enqueue count is still on its way.
	case finished >= st.Counts.Planned && st.Counts.Failed > 0:
		st.State = JobDoneWithFailures
	case finished >= st.Counts.Planned:
		st.State = JobDone
	case st.Counts.Enqueued < st.Counts.Planned:
		st.State = JobPlanning
	default:
		st.State = JobRunning
	}
	if elapsed := s.now().Sub(j.CreatedAt).Seconds(); elapsed > 0 {
		st.RatePerSec = float64(finished) / elapsed
	}
	if remaining := st.Counts.Planned - finished; remaining > 0 && st.RatePerSec > 0 && st.State == JobRunning {
		st.ETA = time.Duration(float64(remaining) / st.RatePerSec * float64(time.Second)).Round(time.Second)
		st.ETASeconds = st.ETA.Seconds()
	}

	if st.Counts.Failed > 0 {
		if err := s.groupFailures(ctx, job, st); err != nil {
			return nil, err
		}
	}
	if st.Quota, err = s.LatestQuota(ctx, job); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *Store) groupFailures(ctx context.Context, job string, st *Status) error {
	docs, err := s.jobRef(job).Collection("shards").Where("state", "==", ShardFailed).
		Select("shard", "reason").Limit(failuresRead).Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("reading failed shards of backfill job %s: %w", job, err)
	}
	st.FailuresSampled = len(docs) < st.Counts.Failed
	groups := map[string]*FailureGroup{}
	for _, d := range docs {
		var sd shardDoc
		if err := d.DataTo(&sd); err != nil {
			return fmt.Errorf("decoding shard %s of backfill job %s: %w", d.Ref.ID, job, err)
		}
		cause := causeOf(sd.Reason)
		g, ok := groups[cause]
		if !ok {
			g = &FailureGroup{Cause: cause, Reason: sd.Reason}
			groups[cause] = g
		}
		g.Count++
		if len(g.Shards) < shardsPerGroup {
			g.Shards = append(g.Shards, sd.Shard)
		}
	}
	for _, g := range groups {
		st.Failures = append(st.Failures, *g)
	}
	sort.Slice(st.Failures, func(a, b int) bool {
		fa, fb := st.Failures[a], st.Failures[b]
		if fa.Count != fb.Count {
			return fa.Count > fb.Count
		}
		return fa.Cause < fb.Cause
	})
	return nil
}
