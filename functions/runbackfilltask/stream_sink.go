package runbackfilltask

import (
	"context"
	"errors"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// streamSink runs a SinkStreamer's task as its pages arrive: the source hands each piece of a
// page's body to the raw writer and its rows to BigQuery in batches while the page is still
// being read, so the task holds a bounded share of memory whatever its size. The completion
// marker follows the last row, as for a PageStreamer. A source may start its fetch over
// (Sink.Start), under a new fetched_at: the rows of the abandoned fetch have no marker, so
// backfill_rows_dedup never shows them. Transient API failures are retried in-process as other
// sources' are (fetch); the run keeps what it learned across those attempts.
func (w *Worker) streamSink(ctx context.Context, src backfill.SinkStreamer, task backfill.TaskSpec) result {
	run, err := src.StreamRun(task)
	if err != nil {
		return result{kind: permanent, reason: "malformed task: " + err.Error()}
	}
	var raw *backfill.RawWriter
	var rows, pages, abandoned int
	var fetchedAt time.Time
	sink := backfill.Sink{
		Start: func() time.Time {
			fetchedAt = w.now()
			raw = w.store.NewRawWriter(task.JobID, task.Shard)
			rows = 0
			return fetchedAt
		},
		Rows: func(rs []backfill.Row) error {
			if err := w.appendRows(ctx, rs); err != nil {
				return &stepError{err: err, append: true}
			}
			rows += len(rs)
			return nil
		},
		Body: func(p []byte) error {
			if err := raw.Write(ctx, p); err != nil {
				return &stepError{err: err}
			}
			return nil
		},
		EndPage: func() error {
			if err := raw.EndPage(ctx); err != nil {
				return &stepError{err: err}
			}
			return nil
		},
	}
	attempt := func(ctx context.Context, t backfill.TaskSpec) (*sources.Result, error) {
		sum, err := run.Attempt(ctx, sink)
		pages, abandoned = sum.Pages, sum.Abandoned
		return &sources.Result{APICalls: sum.APICalls, Quota: sum.Quota}, err
	}
	res, spent, err := w.fetch(ctx, backfill.FetcherFunc(attempt), task)
	spent += abandoned
	if res != nil {
		spent += res.APICalls
	}
	var se *stepError
	switch {
	case errors.As(err, &se) && se.append:
		return appendFailure(se.err, spent)
	case errors.As(err, &se):
		return result{kind: transient, reason: se.err.Error(), apiCalls: spent}
	case err != nil:
		// sourceFailure counts the failed attempt's own calls.
		r := sourceFailure(err)
		r.apiCalls += spent - res.APICalls
		return r
	}
	calls := spent
	if err := w.appendRows(ctx, []backfill.Row{backfill.CompleteRow(task, rows, pages, fetchedAt)}); err != nil {
		return appendFailure(err, calls)
	}
	w.recordQuota(ctx, task, res.Quota)
	// The raw write's part 0 is committed with the outcome (RecordSuccessWithRaw).
	return result{kind: succeeded, rows: rows, apiCalls: calls, raw: raw}
}
