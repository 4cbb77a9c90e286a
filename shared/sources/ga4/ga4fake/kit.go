package ga4fake

import (
	"encoding/json"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// Kit is the fake as the local stack runs it: 14 days by date and deviceCategory (3 rows a
// day), a task a week, 10 rows a request. It honours the tokens of a fake started before it that
// issues them (the worker uses one Google grant for every Google source).
var Kit = sourcestest.Kit{
	Source: ga4.Name,
	Start: func(s sourcestest.Stack, opts []sourcestest.Option) (sourcestest.Fake, error) {
		for _, f := range s.Fakes {
			if tc, ok := f.(sourcestest.TokenChecker); ok {
				opts = append([]sourcestest.Option{WithGA4TokenCheck(tc.ValidToken)}, opts...)
				break
			}
		}
		return NewGA4Server(opts...), nil
	},
	Spec: func(_ sourcestest.Fake, end time.Time) []byte { return Spec(14, "week", 10, end) },
	Rows: 14 * 3,
	// Three deviceCategory values: 3 rows a day, whatever items says.
	Sized: func(_ sourcestest.Fake, _, days int, chunk string, end time.Time) ([]byte, int) {
		return Spec(days, chunk, 0, end), days * 3
	},
	Benches: []sourcestest.Bench{MemoryBench},
}

// Spec is the spec of a GA4 backfill of the fake property's activeUsers and sessions by date
// and deviceCategory (3 values: 3 rows a day) over the days days ending at end, chunked by
// chunk, limit rows a request (0: the API's default).
func Spec(days int, chunk string, limit int, end time.Time) []byte {
	spec := map[string]any{"source": ga4.Name, ga4.Name: map[string]any{
		"property": "123456789", "dimensions": []string{"date", "deviceCategory"}, "metrics": []string{"activeUsers", "sessions"},
		"start": end.AddDate(0, 0, -(days - 1)).Format(time.DateOnly), "end": end.Format(time.DateOnly),
		"chunk": chunk, "limit": limit,
	}}
	out, _ := json.Marshal(spec)
	return out
}
