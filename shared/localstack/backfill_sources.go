package localstack

import (
	"encoding/json"
	"time"
)

// SourceKit is the local stack's support for one registered backfill source: a small job's
// spec against the stack's fake API of that source, and the keys the job yields. Every source
// in the backfill registry needs one (TestEverySourceHasAKit): it is what the source drill
// (TestDrillSources) runs end to end under injected faults.
type SourceKit struct {
	// Spec is the job's spec; end is the last day it covers (a few days ago).
	Spec func(b *BackfillParts, end time.Time) []byte
	// Rows is the distinct (shard, row_index) keys the job yields in backfill_rows.
	Rows int
}

// SourceKits are the kits by source name.
var SourceKits = map[string]SourceKit{
	"youtube_analytics": {Spec: func(_ *BackfillParts, end time.Time) []byte { return YouTubeSpec(2, 5, "day", end) }, Rows: 2 * 5},
	"http_json":         {Spec: HTTPJSONSpec, Rows: 95},
	"ga4":               {Spec: func(_ *BackfillParts, end time.Time) []byte { return GA4Spec(14, "week", 10, end) }, Rows: 14 * 3},
	// The stream's 33 sample tweets, moved into the last 7 days (BackfillParts.XSearch).
	"x_search": {Spec: func(_ *BackfillParts, _ time.Time) []byte { return XSearchSpec(time.Now(), 10) }, Rows: 33},
}

// XSearchSpec is the spec of an x_search backfill of the 7 days before now (less recent
// search's margin), a task a day, pages of maxResults tweets.
func XSearchSpec(now time.Time, maxResults int) []byte {
	end := now.UTC().Add(-time.Minute).Truncate(time.Second)
	spec := map[string]any{"source": "x_search", "x_search": map[string]any{
		"query": "#gcp OR #golang OR #bigquery", "start": end.Add(-6*24*time.Hour - 22*time.Hour).Format(time.RFC3339),
		"end": end.Format(time.RFC3339), "slice_minutes": 1440, "max_results": maxResults,
	}}
	out, _ := json.Marshal(spec)
	return out
}

// HTTPJSONSpec is the spec of an http_json backfill of the fake JSON API's 95 items, read by
// cursor 10 at a time.
func HTTPJSONSpec(b *BackfillParts, _ time.Time) []byte {
	spec := map[string]any{"source": "http_json", "http_json": map[string]any{
		"url": b.JSONAPI.URL() + "/items", "records_path": "data.items",
		"pagination": map[string]any{"type": "cursor", "cursor_path": "paging.cursor", "cursor_param": "cursor"},
	}}
	out, _ := json.Marshal(spec)
	return out
}

// GA4Spec is the spec of a GA4 backfill of the fake property's activeUsers and sessions by date
// and deviceCategory (3 values: 3 rows a day) over the days days ending at end, chunked by
// chunk, limit rows a request (0: the API's default).
func GA4Spec(days int, chunk string, limit int, end time.Time) []byte {
	spec := map[string]any{"source": "ga4", "ga4": map[string]any{
		"property": "123456789", "dimensions": []string{"date", "deviceCategory"}, "metrics": []string{"activeUsers", "sessions"},
		"start": end.AddDate(0, 0, -(days - 1)).Format(time.DateOnly), "end": end.Format(time.DateOnly),
		"chunk": chunk, "limit": limit,
	}}
	out, _ := json.Marshal(spec)
	return out
}
