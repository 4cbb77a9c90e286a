package backfill

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// QuotaReport is the API's own quota figures after one task (GA4's propertyQuota).
type QuotaReport struct {
	Shard string           `json:"shard" firestore:"shard"`
	At    time.Time        `json:"at" firestore:"at"`
	Quota sources.GA4Quota `json:"quota" firestore:"quota"`
}

// RecordQuota keeps the quota figures a task's API reported, one document per task (a retry
// overwrites its own), so the job's status can show the latest.
func (s *Store) RecordQuota(ctx context.Context, job string, ref ShardRef, q *sources.GA4Quota) error {
	if q == nil {
		return nil
	}
	r := QuotaReport{Shard: ref.Shard, At: s.now().UTC(), Quota: *q}
	if _, err := s.jobRef(job).Collection("quota").Doc(strconv.Itoa(ref.Index)).Set(ctx, r); err != nil {
		return fmt.Errorf("recording the quota of shard %s of backfill job %s: %w", ref.Shard, job, err)
	}
	return nil
}

// LatestQuota returns the most recent quota report of the job, nil when its source reports none.
func (s *Store) LatestQuota(ctx context.Context, job string) (*QuotaReport, error) {
	docs, err := s.jobRef(job).Collection("quota").OrderBy("at", firestore.Desc).Limit(1).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("reading the quota of backfill job %s: %w", job, err)
	}
	if len(docs) == 0 {
		return nil, nil
	}
	var r QuotaReport
	if err := docs[0].DataTo(&r); err != nil {
		return nil, fmt.Errorf("decoding the quota of backfill job %s: %w", job, err)
	}
	return &r, nil
}
