package backfill

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// QuotaReport is the API's own quota figures after one task, in the generic shape every source
// reports (sources.Quota).
type QuotaReport struct {
	Shard string        `json:"shard" firestore:"shard"`
	At    time.Time     `json:"at" firestore:"at"`
	Quota sources.Quota `json:"quota" firestore:"quota"`
}

// RecordQuota keeps the quota figures a task's API reported, one document per task (a retry
// overwrites its own), so the job's status can show the latest.
func (s *Store) RecordQuota(ctx context.Context, job string, ref ShardRef, q *sources.Quota) error {
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
	r, err := decodeQuotaReport(docs[0].Data())
	if err != nil {
		return nil, fmt.Errorf("decoding the quota of backfill job %s: %w", job, err)
	}
	return r, nil
}

// decodeQuotaReport reads a quota document of either shape: the generic one ({"figures": [...]})
// or the one written before the source contract, a map of figure name to {consumed, remaining}
// (GA4's propertyQuota as tokens_per_day, tokens_per_hour, ...), which reads as those figures in
// name order.
func decodeQuotaReport(doc map[string]any) (*QuotaReport, error) {
	r := &QuotaReport{}
	r.Shard, _ = doc["shard"].(string)
	r.At, _ = doc["at"].(time.Time)
	q, ok := doc["quota"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the quota field is a %T, want a map", doc["quota"])
	}
	if figs, ok := q["figures"].([]any); ok {
		for i, f := range figs {
			m, ok := f.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("quota figure %d is a %T, want a map", i, f)
			}
			name, _ := m["name"].(string)
			r.Quota.Figures = append(r.Quota.Figures, sources.NamedFigure{Name: name, Consumed: toInt64(m["consumed"]), Remaining: toInt64(m["remaining"])})
		}
		r.Quota.ResetAt, _ = q["reset_at"].(time.Time)
		return r, nil
	}
	for _, name := range sortedKeys(q) {
		m, ok := q[name].(map[string]any)
		if !ok {
			continue
		}
		r.Quota.Figures = append(r.Quota.Figures, sources.NamedFigure{Name: name, Consumed: toInt64(m["consumed"]), Remaining: toInt64(m["remaining"])})
	}
	return r, nil
}

func toInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}
