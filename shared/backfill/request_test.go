package backfill_test

import (
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
)

// The requests of the built-in sources' tasks, decoded for tests (nil when the task has none).

func ytReq(t backfill.TaskSpec) *youtube.YouTubeQuery {
	var q youtube.YouTubeQuery
	if backfill.Request(t, &q, "a youtube query") != nil {
		return nil
	}
	return &q
}

func hjReq(t backfill.TaskSpec) *httpjson.HTTPJSONRequest {
	var r httpjson.HTTPJSONRequest
	if backfill.Request(t, &r, "an http_json request") != nil {
		return nil
	}
	return &r
}

func ga4Req(t backfill.TaskSpec) *ga4.GA4Query {
	var q ga4.GA4Query
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
