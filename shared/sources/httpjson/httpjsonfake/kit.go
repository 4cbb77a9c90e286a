package httpjsonfake

import (
	"encoding/json"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// Kit is the fake as the local stack runs it: its 95 items, read by cursor 10 at a time.
var Kit = sourcestest.Kit{
	Source: httpjson.Name,
	Start: func(_ sourcestest.Stack, opts []sourcestest.Option) (sourcestest.Fake, error) {
		return NewJSONAPIServer(opts...), nil
	},
	Spec: func(f sourcestest.Fake, _ time.Time) []byte { return Spec(f.(*JSONAPIServer).URL()) },
	Rows: 95,
}

// Spec is the spec of an http_json backfill of the fake JSON API at url's items, read by cursor
// 10 at a time.
func Spec(url string) []byte {
	spec := map[string]any{"source": httpjson.Name, httpjson.Name: map[string]any{
		"url": url + "/items", "records_path": "data.items",
		"pagination": map[string]any{"type": "cursor", "cursor_path": "paging.cursor", "cursor_param": "cursor"},
	}}
	out, _ := json.Marshal(spec)
	return out
}
