package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// TestWriteSummaryQuota: a job whose API reports quota shows the latest figures, whatever the
// source: the first two, and the reset time when the API gives one.
func TestWriteSummaryQuota(t *testing.T) {
	reset := time.Date(2026, 12, 1, 10, 15, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		q    sources.Quota
		want string
	}{
		{"figures", sources.Quota{Figures: []sources.NamedFigure{{Name: "tokens_per_hour", Consumed: 12, Remaining: 39_950}, {Name: "tokens_per_day", Consumed: 12, Remaining: 199_000}, {Name: "concurrent_requests", Consumed: 0, Remaining: 10}}},
			"  quota      tokens_per_hour 39,950 left (task used 12), tokens_per_day 199,000 left (task used 12), as of s1\n"},
		{"reset", sources.Quota{Figures: []sources.NamedFigure{{Name: "requests_per_15m", Consumed: 3, Remaining: 447}}, ResetAt: reset},
			"  quota      requests_per_15m 447 left (task used 3), resets 2026-12-01T10:15:00Z, as of s1\n"},
	} {
		var b bytes.Buffer
		writeSummary(&b, &backfill.Status{JobID: "g", State: "done", Quota: &backfill.QuotaReport{Shard: "s1", Quota: tc.q}}, time.Second)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s: writeSummary =\n%s\nwant a line %q", tc.name, b.String(), tc.want)
		}
	}
}
