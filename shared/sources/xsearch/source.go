// Package xsearch is the x_search (X API v2 search) backfill source: its spec section, validation, plan, task
// bodies and rows (the backfill.Source contract), registered in shared/backfill/sourceset.
//
// Reference: docs/sources.md.
package xsearch

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// XSearchSpec selects an X API v2 search (recent: the last 7 days; all: the full archive) for
// one query over [Start, End), one task per time slice. Each tweet found is published to the
// events topic as the stream's tweets are (see docs/sources.md), and kept in backfill_rows.
// The bearer token is the worker's (X_BEARER_TOKEN_SECRET), never the spec's.
type XSearchSpec struct {
	Query string `json:"query"`
	// Endpoint is recent (default) or all.
	Endpoint string `json:"endpoint,omitempty"`
	// Start and End are RFC 3339 times; the search covers [Start, End).
	Start string `json:"start"`
	End   string `json:"end"`
	// SliceMinutes is each task's share of the range (default 60, at most a week).
	SliceMinutes int `json:"slice_minutes,omitempty"`
	// MaxResults is the tweets a page asks for, 10..100 (recent) or 10..500 (all); 0 means the
	// endpoint's largest.
	MaxResults int `json:"max_results,omitempty"`
}

// Name is the x_search source's name.
const Name = "x_search"

const (
	// xSearchDefaultSlice is a task's share of the range unless slice_minutes says otherwise.
	xSearchDefaultSlice = 60
	// xSearchMaxSlice bounds slice_minutes: a week, the whole of recent search.
	xSearchMaxSlice = 7 * 24 * 60
	// xSearchWindow is recent search's reach: the last 7 days
	// (https://docs.x.com/es/x-api/posts/search/introduction.md).
	xSearchWindow = 7 * 24 * time.Hour
	// xSearchWindowMargin keeps a recent search's start this far inside the 7 days, so the
	// job's last task (or a retry) still asks within them; tasks run minutes after the POST.
	xSearchWindowMargin = time.Hour
	// xSearchEndLag is how far before now the end must be: X refuses an end_time less than
	// 10 seconds before the request.
	xSearchEndLag = 10 * time.Second
	// xSearchPagesPerSlice estimates the pages of one task, for the API-call estimate.
	xSearchPagesPerSlice = 1
)

// xArchiveStart is the earliest start_time full-archive search accepts: X's first tweets
// (https://rdrr.io/github/sdaume/twittrcademic/man/search_tweets.html: "Must NOT be a date
// before 2006-03-21").
var xArchiveStart = time.Date(2006, 3, 21, 0, 0, 0, 0, time.UTC)

// Source is x_search on the backfill.Source contract.
type Source struct{}

func (Source) Name() string    { return Name }
func (Source) TaskKey() string { return Name }
func (Source) NewSection() any { return &XSearchSpec{} }

func (Source) CheckTask(t backfill.TaskSpec) error {
	var q XSearchQuery
	if err := backfill.Request(t, &q, "an x_search query"); err != nil {
		return err
	}
	if q.Query == "" || q.StartTime == "" || q.EndTime == "" {
		return fmt.Errorf("an x_search task needs query, start_time and end_time")
	}
	return nil
}

func (Source) Validate(section any, lim backfill.Limits) *backfill.FieldError {
	return section.(*XSearchSpec).validate(lim)
}

func (x *XSearchSpec) validate(lim backfill.Limits) *backfill.FieldError {
	const p = Name + "."
	switch x.Endpoint {
	case "":
		x.Endpoint = XSearchRecent
	case XSearchRecent, XSearchAll:
	default:
		return backfill.FieldErrorf(p+"endpoint", "unknown endpoint %q: want recent or all", x.Endpoint)
	}
	n := utf8.RuneCountInString(x.Query)
	switch {
	case strings.TrimSpace(x.Query) == "":
		return backfill.FieldErrorf(p+"query", "missing: give an X search query, e.g. #gcp lang:en")
	case n > XMaxQuery(x.Endpoint):
		return backfill.FieldErrorf(p+"query", "%d characters, over the %d X's %s search accepts", n, XMaxQuery(x.Endpoint), x.Endpoint)
	}
	now := lim.Clock().UTC()
	start, err := time.Parse(time.RFC3339, x.Start)
	if err != nil {
		return backfill.FieldErrorf(p+"start", "%q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", x.Start)
	}
	end, err := time.Parse(time.RFC3339, x.End)
	if err != nil {
		return backfill.FieldErrorf(p+"end", "%q is not an RFC 3339 time such as 2026-12-01T00:00:00Z", x.End)
	}
	earliest := xArchiveStart
	if x.Endpoint == XSearchRecent {
		earliest = now.Add(-xSearchWindow + xSearchWindowMargin)
	}
	switch {
	case start.Before(earliest):
		return backfill.FieldErrorf(p+"start", "%s is before %s, the earliest %s search reaches (recent search: the last 7 days, less an hour for the tasks to run)",
			x.Start, earliest.Format(time.RFC3339), x.Endpoint)
	case end.After(now.Add(-xSearchEndLag)):
		return backfill.FieldErrorf(p+"end", "%s is not at least %s before now (%s)", x.End, xSearchEndLag, now.Format(time.RFC3339))
	case !end.After(start):
		return backfill.FieldErrorf(p+"end", "%s is not after start %s", x.End, x.Start)
	}
	x.Start, x.End = start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)
	switch {
	case x.SliceMinutes == 0:
		x.SliceMinutes = xSearchDefaultSlice
	case x.SliceMinutes < 1 || x.SliceMinutes > xSearchMaxSlice:
		return backfill.FieldErrorf(p+"slice_minutes", "%d is outside 1..%d", x.SliceMinutes, xSearchMaxSlice)
	}
	most := XMaxResults(x.Endpoint)
	switch {
	case x.MaxResults == 0:
		x.MaxResults = most
	case x.MaxResults < XMinResults || x.MaxResults > most:
		return backfill.FieldErrorf(p+"max_results", "%d is outside %d..%d, X's bounds for %s search", x.MaxResults, XMinResults, most, x.Endpoint)
	}
	return nil
}

// xSlices are the slices' bounds: Start, Start+slice, ..., End.
func (x *XSearchSpec) slices() []time.Time {
	start, _ := time.Parse(time.RFC3339, x.Start)
	end, _ := time.Parse(time.RFC3339, x.End)
	step := time.Duration(x.SliceMinutes) * time.Minute
	out := []time.Time{start}
	for t := start.Add(step); t.Before(end); t = t.Add(step) {
		out = append(out, t)
	}
	return append(out, end)
}

func (Source) Plan(section any, p *backfill.Plan) error {
	x := section.(*XSearchSpec)
	b := x.slices()
	p.State = b
	p.Units = 1
	p.Tasks = len(b) - 1
	p.APICalls = p.Tasks * xSearchPagesPerSlice
	return nil
}

func (Source) Task(p *backfill.Plan, t *backfill.TaskSpec) {
	x := p.Section().(*XSearchSpec)
	b := p.State.([]time.Time)
	from, to := b[t.Index].Format(time.RFC3339), b[t.Index+1].Format(time.RFC3339)
	backfill.SetRequest(t, &XSearchQuery{Endpoint: x.Endpoint, Query: x.Query, StartTime: from, EndTime: to, MaxResults: x.MaxResults})
	t.Shard = x.Endpoint + "/" + from + ".." + to
}

// Rows keeps each tweet (the stream-shaped message) as a row.
func (Source) Rows(t backfill.TaskSpec, res *sources.Result, fetchedAt time.Time) []backfill.Row {
	return backfill.RecordRows(t, res.Records, 0, fetchedAt)
}

func (Source) Example() []byte {
	end := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	b, _ := json.Marshal(map[string]any{"source": Name, Name: map[string]any{
		"query": "#gcp lang:en", "start": end.Add(-24 * time.Hour).Format(time.RFC3339), "end": end.Format(time.RFC3339), "slice_minutes": 360}})
	return b
}
