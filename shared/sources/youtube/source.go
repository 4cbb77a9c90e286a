// Package youtube is the youtube_analytics (YouTube Analytics reports) backfill source: its spec section, validation, plan, task
// bodies and rows (the backfill.Source contract), registered in shared/backfill/sourceset.
//
// Reference: docs/sources.md.
package youtube

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// Name is the youtube_analytics source's name.
const Name = "youtube_analytics"

// Source is youtube_analytics on the Source contract: the spec checks of spec.go,
// date chunks, one reports.query per task and typed report rows.
type Source struct{}

func (Source) Name() string    { return Name }
func (Source) TaskKey() string { return "youtube" }

func (Source) NewSection() any { return &YouTubeSpec{} }
func (Source) Validate(section any, lim backfill.Limits) *backfill.FieldError {
	return section.(*YouTubeSpec).validate(lim.Clock())
}

func (Source) Task(p *backfill.Plan, t *backfill.TaskSpec) { youTubeTask(p, t) }

func (Source) CheckTask(t backfill.TaskSpec) error {
	var q YouTubeQuery
	return backfill.Request(t, &q, "a youtube query")
}

func (Source) Plan(section any, p *backfill.Plan) error {
	y := section.(*YouTubeSpec)
	chunks, err := y.chunks()
	if err != nil {
		return err
	}
	p.Chunks = chunks
	p.Units = max(len(y.VideoIDs), 1)
	p.Tasks = p.Units * len(chunks)
	return nil
}

func (Source) Example() []byte {
	end := time.Now().UTC().AddDate(0, 0, -3)
	return fmt.Appendf(nil, `{"source":"youtube_analytics","youtube_analytics":{"video_ids":["dQw4w9WgXcQ"],"metrics":["views","likes"],"start":%q,"end":%q}}`,
		end.AddDate(0, 0, -6).Format(backfill.DateLayout), end.Format(backfill.DateLayout))
}

// maxRowsPerQuery is the planner's ceiling on the rows one YouTube query returns. The API does
// not truncate time-series reports, so the ceiling is ours: it keeps one response (stored raw
// in Firestore, held in a worker's memory, appended as one batch) to a few MB at most.
const maxRowsPerQuery = 10_000

// channelVideosEstimate stands in for the number of videos of a channel when a channel-wide
// query asks for the video dimension, where the real number is unknown at plan time.
const channelVideosEstimate = 200

func youTubeTask(p *backfill.Plan, t *backfill.TaskSpec) {
	y := p.Section().(*YouTubeSpec)
	chunk := p.Chunks[t.Index%len(p.Chunks)]
	q := &YouTubeQuery{
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
	backfill.SetRequest(t, q)
	t.Shard = who + "/" + chunk.Start + ".." + chunk.End
}

// chunks lays [Start, End] out in periods (DateChunks); a range chunk is the whole range cut
// into as few equal pieces as keep each query under maxRowsPerQuery.
func (y *YouTubeSpec) chunks() ([]backfill.Period, error) {
	return backfill.DateChunks(y.Start, y.End, y.Chunk, func(days int) int {
		rows := days * y.rowsPerDay()
		return max((rows+maxRowsPerQuery-1)/maxRowsPerQuery, 1)
	})
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

// Rows turns a task's result into rows: YouTube report rows keyed by their column names,
// with video_id from the video column or the task's video filter and day from the day column.
func (Source) Rows(task backfill.TaskSpec, res *sources.Result, fetchedAt time.Time) []backfill.Row {
	fetchedAt = fetchedAt.UTC()
	var out []backfill.Row
	add := func(record map[string]any, video string, day time.Time) {
		b, err := json.Marshal(record)
		if err != nil {
			b = []byte(`{}`) // sources decodes JSON, so its values always marshal
		}
		i := int64(len(out))
		out = append(out, backfill.Row{JobID: task.JobID, Shard: task.Shard, RowIndex: &i, Source: task.Source,
			FetchedAt: fetchedAt, VideoID: video, Day: day, Record: string(b)})
	}
	var q YouTubeQuery
	if err := backfill.Request(task, &q, "a youtube query"); err == nil {
		filterVideo := videoOfFilter(q.Filters)
		for _, values := range res.Rows {
			record := make(map[string]any, len(res.Columns))
			for c, col := range res.Columns {
				if c < len(values) {
					record[col.Name] = values[c]
				}
			}
			video := filterVideo
			if v, ok := record["video"].(string); ok {
				video = v
			}
			var day time.Time
			if d, ok := record["day"].(string); ok {
				day, _ = time.Parse(backfill.DateLayout, d)
			}
			add(record, video, day)
		}
	}
	return out
}

// videoOfFilter returns the video of a one-video filter ("video==abc"), else "".
func videoOfFilter(filters string) string {
	for _, f := range strings.Split(filters, ";") {
		if v, ok := strings.CutPrefix(f, "video=="); ok && !strings.Contains(v, ",") {
			return v
		}
	}
	return ""
}

// YouTubeSpec selects YouTube Analytics reports: per video (VideoIDs) or for a whole channel.
type YouTubeSpec struct {
	VideoIDs   []string `json:"video_ids,omitempty"`
	Channel    string   `json:"channel,omitempty"`
	Metrics    []string `json:"metrics"`
	Dimensions []string `json:"dimensions,omitempty"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	Chunk      string   `json:"chunk,omitempty"`
	Currency   string   `json:"currency,omitempty"`
}
