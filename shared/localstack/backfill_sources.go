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
