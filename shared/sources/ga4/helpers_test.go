package ga4_test

import (
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
)

// today is the tests' clock.
var today = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

var testLimits = backfill.Limits{
	Now: func() time.Time { return today },
}

func ga4Req(t backfill.TaskSpec) *ga4.GA4Query {
	var q ga4.GA4Query
	if backfill.Request(t, &q, "a ga4 query") != nil {
		return nil
	}
	return &q
}
