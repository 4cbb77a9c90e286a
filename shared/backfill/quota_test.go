package backfill

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// TestDecodeQuotaReport: quota documents read in both shapes, the generic one and the one the
// worker wrote before the source contract (GA4's propertyQuota as a map of figures; the map
// below is what Firestore returned for a QuotaReport{Quota: ga4.GA4Quota{...}} then).
func TestDecodeQuotaReport(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	fig := func(c, r int64) map[string]any { return map[string]any{"consumed": c, "remaining": r} }
	for _, tc := range []struct {
		name string
		doc  map[string]any
		want *QuotaReport
	}{
		{"before the contract", map[string]any{"shard": "s", "at": at, "quota": map[string]any{
			"tokens_per_day": fig(12, 199_000), "tokens_per_hour": fig(12, 39_950), "concurrent_requests": fig(0, 10),
			"tokens_per_project_per_hour": fig(3, 100), "server_errors_per_project_per_hour": fig(0, 10),
			"potentially_thresholded_requests_per_hour": fig(0, 120)}},
			&QuotaReport{Shard: "s", At: at, Quota: sources.Quota{Figures: []sources.NamedFigure{
				{Name: "concurrent_requests", Consumed: 0, Remaining: 10}, {Name: "potentially_thresholded_requests_per_hour", Consumed: 0, Remaining: 120}, {Name: "server_errors_per_project_per_hour", Consumed: 0, Remaining: 10},
				{Name: "tokens_per_day", Consumed: 12, Remaining: 199_000}, {Name: "tokens_per_hour", Consumed: 12, Remaining: 39_950}, {Name: "tokens_per_project_per_hour", Consumed: 3, Remaining: 100}}}}},
		{"generic", map[string]any{"shard": "s", "at": at, "quota": map[string]any{
			"figures":  []any{map[string]any{"name": "requests_per_15m", "consumed": int64(3), "remaining": int64(447)}},
			"reset_at": at.Add(time.Minute)}},
			&QuotaReport{Shard: "s", At: at, Quota: sources.Quota{Figures: []sources.NamedFigure{{Name: "requests_per_15m", Consumed: 3, Remaining: 447}}, ResetAt: at.Add(time.Minute)}}},
	} {
		got, err := decodeQuotaReport(tc.doc)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: decodeQuotaReport (-want +got):\n%s", tc.name, diff)
		}
	}
}
