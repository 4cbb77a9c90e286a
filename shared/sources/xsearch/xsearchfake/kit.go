package xsearchfake

import (
	"encoding/json"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch"
)

// Kit is the fake as the local stack runs it: the stream's sample data moved to end an hour ago
// (recent search reaches 7 days back), fronting the stream's fake when it runs so that
// X_API_BASE_URL serves both; its job reads the 7 days, a task a day, 10 tweets a page (the 33
// sample tweets).
var Kit = sourcestest.Kit{
	Source: xsearch.Name,
	Start: func(s sourcestest.Stack, opts []sourcestest.Option) (sourcestest.Fake, error) {
		f := NewXSearchServer(s.Sample, opts...)
		f.Rebase(time.Now().UTC().Add(-time.Hour).Truncate(time.Second))
		if s.StreamURL != "" {
			if err := f.Front(s.StreamURL, s.StreamToken); err != nil {
				f.Close()
				return nil, err
			}
		}
		return f, nil
	},
	Spec: func(_ sourcestest.Fake, _ time.Time) []byte { return Spec(time.Now(), 10) },
	Rows: 33,
}

// Spec is the spec of an x_search backfill of the 7 days before now (less recent search's
// margin), a task a day, pages of maxResults tweets.
func Spec(now time.Time, maxResults int) []byte {
	end := now.UTC().Add(-time.Minute).Truncate(time.Second)
	spec := map[string]any{"source": xsearch.Name, xsearch.Name: map[string]any{
		"query": "#gcp OR #golang OR #bigquery", "start": end.Add(-6*24*time.Hour - 22*time.Hour).Format(time.RFC3339),
		"end": end.Format(time.RFC3339), "slice_minutes": 1440, "max_results": maxResults,
	}}
	out, _ := json.Marshal(spec)
	return out
}
