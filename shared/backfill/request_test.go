package backfill_test

import (
	"github.com/pipelinekit/pipelinekit/shared/sources"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
)

// The requests of the built-in sources' tasks, decoded for tests (nil when the task has none).

func ytReq(t backfill.TaskSpec) *sources.YouTubeQuery {
	var q sources.YouTubeQuery
	if backfill.Request(t, &q, "a youtube query") != nil {
		return nil
	}
	return &q
}

func hjReq(t backfill.TaskSpec) *sources.HTTPJSONRequest {
	var r sources.HTTPJSONRequest
	if backfill.Request(t, &r, "an http_json request") != nil {
		return nil
	}
	return &r
}

func ga4Req(t backfill.TaskSpec) *sources.GA4Query {
	var q sources.GA4Query
	if backfill.Request(t, &q, "a ga4 query") != nil {
		return nil
	}
	return &q
}

// withRequest returns t carrying request v.
func withRequest(t backfill.TaskSpec, v any) backfill.TaskSpec {
	backfill.SetRequest(&t, v)
	return t
}
