package httpjson_test

import (
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
)

// today is the tests' clock.
var today = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

var testLimits = backfill.Limits{
	Now:      func() time.Time { return today },
	Settings: httpjson.HostSettings("api.example.com"),
}

func hjReq(t backfill.TaskSpec) *httpjson.HTTPJSONRequest {
	var r httpjson.HTTPJSONRequest
	if backfill.Request(t, &r, "an http_json request") != nil {
		return nil
	}
	return &r
}
