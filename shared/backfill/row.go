package backfill

import (
	"encoding/json"
	"time"
)

// TableRows is the BigQuery table the worker appends API rows to
// (terraform/schemas/backfill_rows.json); the view backfill_rows_dedup keeps one row per key.
const TableRows = "backfill_rows"

// Row is one API row in backfill_rows. (JobID, Shard, RowIndex) is its key: a task delivered
// twice appends the same keys again, and the dedup view keeps the latest fetch of each.
type Row struct {
	JobID string `bigquery:"job_id"`
	Shard string `bigquery:"shard"`
	// RowIndex is the row's position in its task's result, from 0; a pointer because
	// event.Values drops zero values and row 0 is a value.
	RowIndex  *int64    `bigquery:"row_index"`
	Source    string    `bigquery:"source"`
	FetchedAt time.Time `bigquery:"fetched_at"`
	VideoID   string    `bigquery:"video_id"`
	// Day is a DATE column: midnight UTC of the day, which the warehouse encoder writes as
	// days since the epoch.
	Day time.Time `bigquery:"day"`
	// Record is the API row as a JSON object: column name to value.
	Record string `bigquery:"record"`
}

// CompleteIndex is the row_index of a fetch's completion marker: a task's rows are appended as
// its pages arrive, so a fetch that died partway leaves some of its rows; the marker, appended
// after the last of them, says the fetch with its fetched_at is whole. backfill_rows_dedup keeps
// each shard's latest complete fetch and nothing of any other.
const CompleteIndex = -1

// RecordRows turns http_json records into rows numbered from first, for a task whose records
// arrive page by page.
func RecordRows(task TaskSpec, records []map[string]any, first int, fetchedAt time.Time) []Row {
	out := make([]Row, 0, len(records))
	for k, r := range records {
		b, err := json.Marshal(r)
		if err != nil {
			b = []byte(`{}`) // sources decodes JSON, so its values always marshal
		}
		i := int64(first + k)
		out = append(out, Row{JobID: task.JobID, Shard: task.Shard, RowIndex: &i, Source: task.Source,
			FetchedAt: fetchedAt.UTC(), Record: string(b)})
	}
	return out
}

// CompleteRow is the marker of a whole fetch of rows rows over pages pages (see CompleteIndex).
func CompleteRow(task TaskSpec, rows, pages int, fetchedAt time.Time) Row {
	i := int64(CompleteIndex)
	b, _ := json.Marshal(map[string]any{"complete": true, "rows": rows, "pages": pages})
	return Row{JobID: task.JobID, Shard: task.Shard, RowIndex: &i, Source: task.Source, FetchedAt: fetchedAt.UTC(), Record: string(b)}
}
