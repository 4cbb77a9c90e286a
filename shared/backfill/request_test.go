package backfill

import "github.com/pipelinekit/pipelinekit/shared/sources"

// The requests of the built-in sources' tasks, decoded for tests (nil when the task has none).

func ytReq(t TaskSpec) *sources.YouTubeQuery {
	var q sources.YouTubeQuery
	if Request(t, &q, "a youtube query") != nil {
		return nil
	}
	return &q
}

func hjReq(t TaskSpec) *sources.HTTPJSONRequest {
	var r sources.HTTPJSONRequest
	if Request(t, &r, "an http_json request") != nil {
		return nil
	}
	return &r
}

func ga4Req(t TaskSpec) *sources.GA4Query {
	var q sources.GA4Query
	if Request(t, &q, "a ga4 query") != nil {
		return nil
	}
	return &q
}

// withRequest returns t carrying request v.
func withRequest(t TaskSpec, v any) TaskSpec {
	SetRequest(&t, v)
	return t
}
