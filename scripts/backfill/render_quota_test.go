package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// TestWriteSummaryQuota: a job whose API reports quota (ga4) shows the latest figures.
func TestWriteSummaryQuota(t *testing.T) {
	var b bytes.Buffer
	q := &backfill.QuotaReport{Shard: "property=1/2024-01-01..2024-01-07", Quota: sources.GA4Quota{
		TokensPerHour: sources.QuotaFigure{Consumed: 12, Remaining: 39_950}, TokensPerDay: sources.QuotaFigure{Consumed: 12, Remaining: 199_000}}}
	writeSummary(&b, &backfill.Status{JobID: "g", State: "done", Quota: q}, time.Second)
	want := "  quota      tokens/hour 39,950 left (task used 12), tokens/day 199,000 left, as of property=1/2024-01-01..2024-01-07\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("writeSummary =\n%s\nwant a line %q", b.String(), want)
	}
}
