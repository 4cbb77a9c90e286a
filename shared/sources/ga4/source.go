// Package ga4 is the ga4 (the Google Analytics 4 Data API) backfill source: its spec section, validation, plan, task
// bodies and rows (the backfill.Source contract), registered in shared/backfill/sourceset.
//
// Reference: docs/sources.md.
package ga4

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// GA4Spec selects a Google Analytics 4 report (Data API runReport) of one property: its
// dimensions (date is always one) and metrics over [Start, End], one task per chunk.
// Credentials are the worker's (a refresh token or its service account), never the spec's.
type GA4Spec struct {
	// Property is the GA4 property id, "123456" or "properties/123456"; stored as the latter.
	Property   string   `json:"property"`
	Dimensions []string `json:"dimensions,omitempty"`
	Metrics    []string `json:"metrics"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	// Chunk is day (default), week, month or range (the whole range in one task).
	Chunk string `json:"chunk,omitempty"`
	// Limit is the rows one request asks for (offset paging reads the rest), 1..250,000;
	// 0 means the API's default of 10,000. Requests ask for at most GA4PageRows: a
	// larger limit is read in pages of that many.
	Limit int `json:"limit,omitempty"`
}

// GA4 request limits (runReport reference): at most 9 dimensions and 10 metrics a request.
const (
	ga4MaxDimensions = 9
	ga4MaxMetrics    = 10
	// ga4RowsPerDimension stands in for a non-date dimension's cardinality in the API-call
	// estimate, where the real one is unknown at plan time.
	ga4RowsPerDimension = 10
)

// ga4Earliest is the earliest date the Data API accepts in a date range.
var ga4Earliest = time.Date(2015, 8, 14, 0, 0, 0, 0, time.UTC)

var (
	ga4PropertyPattern = regexp.MustCompile(`^(properties/)?([0-9]{1,20})$`)
	// API names, custom ones included (customEvent:level, customUser:tier).
	ga4NamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(:[A-Za-z0-9_]+)?$`)
)

// Name is the ga4 source's name.
const Name = "ga4"

// Source is ga4 on the backfill.Source contract.
type Source struct{}

func (Source) Name() string    { return Name }
func (Source) TaskKey() string { return Name }
func (Source) CheckTask(t backfill.TaskSpec) error {
	var q GA4Query
	return backfill.Request(t, &q, "a ga4 query")
}

func (Source) NewSection() any { return &GA4Spec{} }
func (Source) Validate(section any, lim backfill.Limits) *backfill.FieldError {
	return section.(*GA4Spec).validate(lim)
}

func (g *GA4Spec) validate(lim backfill.Limits) *backfill.FieldError {
	const p = Name + "."
	m := ga4PropertyPattern.FindStringSubmatch(g.Property)
	if g.Property == "" {
		return backfill.FieldErrorf(p+"property", "missing: give the GA4 property id, e.g. 123456789")
	}
	if m == nil {
		return backfill.FieldErrorf(p+"property", "%q is not a GA4 property id (digits, or properties/ and digits)", g.Property)
	}
	g.Property = "properties/" + m[2]

	names := func(field string, list []string, most int) ([]string, *backfill.FieldError) {
		for i, n := range list {
			if !ga4NamePattern.MatchString(n) {
				return nil, backfill.FieldErrorf(fmt.Sprintf("%s%s[%d]", p, field, i), "%q is not a GA4 API name", n)
			}
		}
		out, dup := backfill.SortedUnique(list)
		if dup >= 0 {
			return nil, backfill.FieldErrorf(fmt.Sprintf("%s%s[%d]", p, field, dup), "%q is listed twice", list[dup])
		}
		if len(out) > most {
			return nil, backfill.FieldErrorf(p+field, "%d names, over the API's %d a request", len(out), most)
		}
		return out, nil
	}
	if len(g.Metrics) == 0 {
		return backfill.FieldErrorf(p+"metrics", "is empty")
	}
	var fe *backfill.FieldError
	if g.Metrics, fe = names("metrics", g.Metrics, ga4MaxMetrics); fe != nil {
		return fe
	}
	dims := g.Dimensions
	if !slices.Contains(dims, "date") {
		// Every row is a day's: the date dimension keys rows to days whatever the chunk.
		dims = append(slices.Clone(dims), "date")
	}
	if g.Dimensions, fe = names("dimensions", dims, ga4MaxDimensions); fe != nil {
		return fe
	}

	if fe := backfill.ValidateDates(p, g.Start, g.End, ga4Earliest, ", the earliest date the GA4 Data API accepts", lim.Clock()); fe != nil {
		return fe
	}
	if fe := backfill.ValidateChunk(p, &g.Chunk); fe != nil {
		return fe
	}
	if g.Limit < 0 || g.Limit > GA4MaxLimit {
		return backfill.FieldErrorf(p+"limit", "%d is outside 1..%d (0 means %d)", g.Limit, GA4MaxLimit, GA4DefaultLimit)
	}
	return nil
}

func (Source) Plan(section any, p *backfill.Plan) error {
	g := section.(*GA4Spec)
	chunks, err := backfill.DateChunks(g.Start, g.End, g.Chunk, nil)
	if err != nil {
		return err
	}
	p.Chunks = chunks
	p.Units = 1
	p.Tasks = len(p.Chunks)
	// Estimate: each chunk's rows (days x ga4RowsPerDimension per other dimension) over the
	// page size, at least one request.
	perDay := 1
	for _, d := range g.Dimensions {
		if d != "date" && perDay < GA4MaxLimit {
			perDay *= ga4RowsPerDimension
		}
	}
	limit := GA4RequestRows(GA4Query{Limit: g.Limit})
	for _, c := range p.Chunks {
		from, _ := backfill.ParseDate(c.Start)
		to, _ := backfill.ParseDate(c.End)
		rows := (int(to.Sub(from).Hours()/24) + 1) * perDay
		p.APICalls += max((rows+limit-1)/limit, 1)
	}
	return nil
}

func (Source) Task(p *backfill.Plan, t *backfill.TaskSpec) {
	g := p.Section().(*GA4Spec)
	c := p.Chunks[t.Index]
	backfill.SetRequest(t, &GA4Query{Property: g.Property, StartDate: c.Start, EndDate: c.End,
		Dimensions: slices.Clone(g.Dimensions), Metrics: slices.Clone(g.Metrics), Limit: g.Limit})
	t.Shard = "property=" + strings.TrimPrefix(g.Property, "properties/") + "/" + c.Start + ".." + c.End
}

// Rows keys each GA4 row by its dimension and metric names, with its "sampled" and
// "other_row" flags, and day from the date dimension (YYYYMMDD).
func (Source) Rows(t backfill.TaskSpec, res *sources.Result, fetchedAt time.Time) []backfill.Row {
	return Rows(t, res.Records, 0, fetchedAt)
}

// Rows maps GA4 records numbered from first (a streamed report's batch) as Rows does.
func Rows(t backfill.TaskSpec, records []map[string]any, first int, fetchedAt time.Time) []backfill.Row {
	out := make([]backfill.Row, 0, len(records))
	for k, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			b = []byte(`{}`) // the pager's values always marshal
		}
		var day time.Time
		if d, ok := r["date"].(string); ok {
			day, _ = time.Parse("20060102", d)
		}
		i := int64(first + k)
		out = append(out, backfill.Row{JobID: t.JobID, Shard: t.Shard, RowIndex: &i, Source: t.Source,
			FetchedAt: fetchedAt.UTC(), Day: day, Record: string(b)})
	}
	return out
}

func (Source) Example() []byte {
	end := time.Now().UTC().AddDate(0, 0, -2)
	return fmt.Appendf(nil, `{"source":"ga4","ga4":{"property":"123456789","dimensions":["date","country"],"metrics":["activeUsers","sessions"],"start":%q,"end":%q,"chunk":"week"}}`,
		end.AddDate(0, 0, -13).Format(backfill.DateLayout), end.Format(backfill.DateLayout))
}
