// Package sources calls the APIs a backfill reads from and classifies every
// failure so the worker (RunBackfillTask) can decide retry, fail or block in
// one place:
//
//   - YouTube runs one YouTube Analytics v2 reports.query through the official
//     generated client (google.golang.org/api/youtubeanalytics/v2) with an
//     OAuth refresh token; it keeps the response body exactly as received and
//     decodes rows with their declared types (INTEGER -> int64, FLOAT -> float64).
//   - HTTPJSON fetches a plain JSON API, following next-link, cursor or page
//     pagination, behind an SSRF guard (HostPolicy) enforced at dial time.
//
// Every failure is an *Error with a Kind: Transient (retry later, honouring
// RetryAfter), Permanent (the task cannot succeed as specified) or
// AuthRevoked (the refresh token is dead: block the whole job until someone
// reconnects the channel).
//
// # YouTube Analytics limits, for the planner
//
// Sources: the reports.query discovery document (youtubeanalytics/v2,
// revision 20200212, parameters ids/startDate/endDate/metrics/dimensions/
// filters/sort/maxResults/startIndex/currency) and the YouTube Analytics
// "Data Model", "Dimensions" and "Sample requests" pages on
// developers.google.com/youtube/analytics.
//
//   - Date range: the API does not cap startDate..endDate. A query with the
//     day dimension returns one row per day (per other-dimension value) in a
//     single response; the response "contains data up until the last day
//     specified for which all metrics in the query are available", so the most
//     recent 2-3 days are simply missing, not an error (Data Model page).
//   - maxResults / startIndex: optional; startIndex is one-based and
//     inclusive, "a pagination mechanism along with max-results" (discovery).
//     There is no page token: a caller pages by re-issuing the query with
//     startIndex+maxResults. Time-series (day/month) reports are not
//     truncated when maxResults is unset; "top videos" reports (dimension
//     video, sorted by a metric) require maxResults and accept at most
//     MaxTopVideosResults (200) rows per query.
//   - Filters: several filters are joined with ';' ("video==a;country==IT").
//     A video filter takes a comma-separated list; groups hold up to 500
//     items (Data Model page), and MaxVideosPerFilter (500) is the planner's
//     ceiling for one video==a,b,... filter. I could not confirm that number
//     on the Dimensions page from here: keep batches small (the planner's
//     one-video-per-task plan never gets near it).
//   - Quota: queries are counted against the Cloud project's YouTube
//     Analytics quota (shown in the Cloud console, not published as a
//     number); exhaustion arrives as 403 quotaExceeded / rateLimitExceeded or
//     429 RESOURCE_EXHAUSTED, which this package reports as Transient.
//
// Reference: docs/backfills.md.
package sources

import "encoding/json"

// Column describes one column of a YouTube Analytics result table.
type Column struct {
	// Name is the dimension or metric name, e.g. "day" or "views".
	Name string `json:"name"`
	// Type is YouTube's dataType: STRING, INTEGER, FLOAT, ...
	Type string `json:"dataType"`
	// ColumnType is DIMENSION or METRIC.
	ColumnType string `json:"columnType"`
}

// Result is what one source call (one task) produced.
type Result struct {
	// Raw is the (last) response body exactly as received; for YouTube the
	// whole report, for HTTPJSON the last page.
	Raw []byte
	// Pages holds every page's body as received, in order (HTTPJSON; for
	// YouTube the single report).
	Pages [][]byte
	// Columns describes Rows (YouTube only).
	Columns []Column
	// Rows are the report rows with typed values: string, int64, float64,
	// bool or nil (YouTube only).
	Rows [][]any
	// Records are the collected JSON objects, numbers as int64 or float64
	// (HTTPJSON only).
	Records []map[string]any
	// APICalls counts HTTP calls made to the API (retries included, token
	// refreshes excluded).
	APICalls int
	// Quota is the API's own quota report for the task, in the generic shape; nil when the
	// API gives none.
	Quota *Quota
}

// NormalizeNumber turns a json.Number into int64 when it is integral and fits,
// else float64, so integers above 2^53 keep every digit.
func NormalizeNumber(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		if f == float64(int64(f)) && f >= -9.2e18 && f <= 9.2e18 {
			return int64(f)
		}
		return f
	}
	return n.String()
}

// normalize walks a value decoded with UseNumber and converts every number.
func Normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		return NormalizeNumber(t)
	case map[string]any:
		for k, e := range t {
			t[k] = Normalize(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = Normalize(e)
		}
		return t
	default:
		return v
	}
}

// Page is one fetched page: its number (from 1), its body as received and its records.
type Page struct {
	N       int
	Body    []byte
	Records []map[string]any
	// Quota is the API's quota report after this page, when it gives one; the worker keeps
	// the last page's.
	Quota *Quota
}
