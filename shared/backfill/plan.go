package backfill

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// maxRowsPerQuery is the planner's ceiling on the rows one YouTube query returns. The API does
// not truncate time-series reports, so the ceiling is ours: it keeps one response (stored raw
// in Firestore, held in a worker's memory, appended as one batch) to a few MB at most.
const maxRowsPerQuery = 10_000

// channelVideosEstimate stands in for the number of videos of a channel when a channel-wide
// query asks for the video dimension, where the real number is unknown at plan time.
const channelVideosEstimate = 200

// Period is an inclusive range of dates, YYYY-MM-DD.
type Period struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// TaskSpec is one task: one API query (YouTube) or one paginated fetch (http_json). It is the
// body of the Cloud Task that RunBackfillTask receives.
type TaskSpec struct {
	JobID string `json:"job_id"`
	// Shard is the task's stable, readable name within the job, e.g.
	// "video=abc/2024-01-01..2024-01-01" or "id=1&lang=en".
	Shard    string                   `json:"shard"`
	Index    int                      `json:"index"`
	Source   string                   `json:"source"`
	YouTube  *sources.YouTubeQuery    `json:"youtube,omitempty"`
	HTTPJSON *sources.HTTPJSONRequest `json:"http_json,omitempty"`
	GA4      *sources.GA4Query        `json:"ga4,omitempty"`
}

// Ref returns the task's name in the job store.
func (t TaskSpec) Ref() ShardRef { return ShardRef{Index: t.Index, Shard: t.Shard} }

// ShardRef names a task in the job store: its index in the plan and its shard name.
type ShardRef struct {
	Index int
	Shard string
}

// Plan is a spec laid out as tasks. Tasks are addressed by index and computed on demand, so a
// job of a million tasks costs no memory here: expansion tasks carry [from, to) and call Task.
type Plan struct {
	JobID  string
	Source string
	// Tasks is how many tasks the job has.
	Tasks int
	// APICalls estimates the API calls: one per task (paginated fetches may make more).
	APICalls int
	// Units is how many videos (1 for a channel-wide YouTube job) or parameter combinations.
	Units int
	// Chunks are the periods each YouTube unit is queried for, in order (nil for http_json).
	Chunks []Period

	spec   *Spec
	params []param
	// state is what a source's Plan keeps for its Task.
	state any
}

type param struct {
	name   string
	values []string
}

// Plan lays the spec out as tasks. YouTube tasks are video-major: task i queries video
// i/len(Chunks) for chunk i%len(Chunks). http_json tasks enumerate the cartesian product of
// params (always the product), names in sorted order, the last name varying fastest.
func (s *Spec) Plan() (*Plan, error) {
	p := &Plan{JobID: s.ID(), Source: s.Source, spec: s}
	src, ok := Lookup(s.Source)
	if !ok || !src.HasSection(s) {
		return nil, fmt.Errorf("spec has no %s section", s.Source)
	}
	if err := src.Plan(s, p); err != nil {
		return nil, err
	}
	if p.APICalls == 0 {
		p.APICalls = p.Tasks
	}
	return p, nil
}

// Task returns task i, for 0 <= i < Tasks; it panics outside that range, like a slice.
func (p *Plan) Task(i int) TaskSpec {
	if i < 0 || i >= p.Tasks {
		panic(fmt.Sprintf("backfill: task index %d out of range [0, %d)", i, p.Tasks))
	}
	t := TaskSpec{JobID: p.JobID, Index: i, Source: p.Source}
	src, _ := Lookup(p.Source) // Plan checked it
	src.Task(p, &t)
	return t
}

// Sample returns the first n tasks (fewer when the plan is smaller), for dry_run answers.
func (p *Plan) Sample(n int) []TaskSpec {
	n = min(n, p.Tasks)
	out := make([]TaskSpec, 0, max(n, 0))
	for i := range n {
		out = append(out, p.Task(i))
	}
	return out
}

// Range is the tasks [From, To) of a plan, what one expansion task creates.
type Range struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// Split cuts [0, Tasks) into consecutive ranges of at most size tasks.
func (p *Plan) Split(size int) []Range {
	size = max(size, 1)
	var out []Range
	for from := 0; from < p.Tasks; from += size {
		out = append(out, Range{From: from, To: min(from+size, p.Tasks)})
	}
	return out
}

func (p *Plan) youTubeTask(t *TaskSpec) {
	y := p.spec.YouTube
	chunk := p.Chunks[t.Index%len(p.Chunks)]
	q := &sources.YouTubeQuery{
		StartDate:  chunk.Start,
		EndDate:    chunk.End,
		Metrics:    append([]string(nil), y.Metrics...),
		Dimensions: append([]string(nil), y.Dimensions...),
		Sort:       "day",
		Currency:   y.Currency,
	}
	var who string
	if len(y.VideoIDs) > 0 {
		video := y.VideoIDs[t.Index/len(p.Chunks)]
		q.IDs = "channel==MINE"
		q.Filters = "video==" + video
		who = "video=" + video
	} else {
		q.IDs = "channel==" + y.Channel
		who = "channel=" + y.Channel
	}
	t.YouTube = q
	t.Shard = who + "/" + chunk.Start + ".." + chunk.End
}

func (p *Plan) httpJSONTask(t *TaskSpec) {
	h := p.spec.HTTPJSON
	chosen := make(map[string]string, len(p.params))
	rest := t.Index
	for i := len(p.params) - 1; i >= 0; i-- {
		vs := p.params[i].values
		chosen[p.params[i].name] = vs[rest%len(vs)]
		rest /= len(vs)
	}
	req := &sources.HTTPJSONRequest{
		URL:         fillURL(h.URL, chosen),
		Headers:     maps.Clone(h.Headers),
		RecordsPath: h.RecordsPath,
		Secrets:     slices.Clone(h.Secrets),
	}
	if pg := h.Pagination; pg != nil {
		req.Pagination = sources.Pagination{Type: pg.Type, NextPath: pg.NextPath, CursorPath: pg.CursorPath,
			CursorParam: pg.CursorParam, PageParam: pg.PageParam, StartPage: pg.StartPage, MaxPages: pg.MaxPages}
	}
	t.HTTPJSON = req
	t.Shard = "url"
	if len(chosen) > 0 {
		v := url.Values{}
		for name, value := range chosen {
			v.Set(name, value)
		}
		t.Shard = v.Encode()
	}
}

// fillURL replaces each {name} with its value, escaped for where it stands: path escaping
// before the '?', query escaping after it.
func fillURL(tmpl string, values map[string]string) string {
	query := strings.IndexByte(tmpl, '?')
	var b strings.Builder
	last := 0
	for _, m := range placeholderPattern.FindAllStringSubmatchIndex(tmpl, -1) {
		b.WriteString(tmpl[last:m[0]])
		v := values[tmpl[m[2]:m[3]]]
		if query >= 0 && m[0] > query {
			b.WriteString(url.QueryEscape(v))
		} else {
			b.WriteString(url.PathEscape(v))
		}
		last = m[1]
	}
	b.WriteString(tmpl[last:])
	return b.String()
}

// chunks lays [Start, End] out in periods: days, calendar weeks (Monday to Sunday) or months
// clipped to the range, or the whole range cut into as few equal pieces as keep each query
// under maxRowsPerQuery.
func (y *YouTubeSpec) chunks() ([]Period, error) {
	start, err := parseDate(y.Start)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	end, err := parseDate(y.End)
	if err != nil {
		return nil, fmt.Errorf("end: %w", err)
	}
	if end.Before(start) {
		return nil, fmt.Errorf("end %s is before start %s", y.End, y.Start)
	}
	days := int(end.Sub(start).Hours()/24) + 1
	var out []Period
	add := func(from, to time.Time) {
		out = append(out, Period{Start: from.Format(dateLayout), End: to.Format(dateLayout)})
	}
	switch y.Chunk {
	case ChunkDay, "":
		out = make([]Period, 0, days)
		for d := start; !d.After(end); d = d.AddDate(0, 0, 1) {
			add(d, d)
		}
	case ChunkWeek:
		for from := start; !from.After(end); {
			// Days until Sunday: Monday starts a week (ISO 8601).
			to := from.AddDate(0, 0, (7-int(from.Weekday()))%7)
			add(from, minTime(to, end))
			from = to.AddDate(0, 0, 1)
		}
	case ChunkMonth:
		for from := start; !from.After(end); {
			to := time.Date(from.Year(), from.Month()+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
			add(from, minTime(to, end))
			from = to.AddDate(0, 0, 1)
		}
	case ChunkRange:
		rows := days * y.rowsPerDay()
		pieces := max((rows+maxRowsPerQuery-1)/maxRowsPerQuery, 1)
		size := (days + pieces - 1) / pieces
		for from := start; !from.After(end); from = from.AddDate(0, 0, size) {
			add(from, minTime(from.AddDate(0, 0, size-1), end))
		}
	default:
		return nil, fmt.Errorf("unknown chunk %q", y.Chunk)
	}
	return out, nil
}

// rowsPerDay estimates the rows one day of one query yields: the product of the dimensions'
// typical cardinalities.
func (y *YouTubeSpec) rowsPerDay() int {
	rows := 1
	for _, d := range y.Dimensions {
		n, ok := youTubeDimensions[d]
		if !ok {
			n = 10
		}
		if d == "video" && len(y.VideoIDs) == 0 {
			n = channelVideosEstimate
		}
		rows *= n
		if rows > maxRowsPerQuery {
			return maxRowsPerQuery // one day per query is as small as a range gets
		}
	}
	return rows
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
