package runbackfilltask

import (
	"context"
	"errors"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// stepError is a failure of the worker's own step (raw storage, an append) inside a stream, as
// opposed to the API's.
type stepError struct {
	err    error
	append bool
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// stream runs an http_json task page by page: each page's raw body goes to Firestore and its
// rows to BigQuery as it arrives, so the instance holds a page or two whatever the task's size,
// and no append is bigger than a page's rows. When the last page is in, the fetch's completion
// marker is appended (the raw write ends in the outcome's commit): until then backfill_rows_dedup shows none of
// this fetch's rows (a fetch cut short by a failure, a deadline or a crash is never mixed with
// another).
func (w *Worker) stream(ctx context.Context, task backfill.TaskSpec) result {
	fetchedAt := w.now()
	raw := w.store.NewRawWriter(task.JobID, task.Shard)
	rows, pages := 0, 0
	var req sources.HTTPJSONRequest
	if err := backfill.Request(task, &req, "an http_json request"); err != nil {
		return result{kind: permanent, reason: "malformed task: " + err.Error()}
	}
	calls, err := w.httpJSON.Stream(ctx, req, func(p sources.Page) error {
		if err := raw.Add(ctx, p.Body); err != nil {
			return &stepError{err: err}
		}
		pages++
		if len(p.Records) == 0 {
			return nil
		}
		if err := w.appendRows(ctx, backfill.RecordRows(task, p.Records, rows, fetchedAt)); err != nil {
			return &stepError{err: err, append: true}
		}
		rows += len(p.Records)
		return nil
	})
	var se *stepError
	switch {
	case errors.As(err, &se) && se.append:
		return appendFailure(se.err, calls)
	case errors.As(err, &se):
		return result{kind: transient, reason: se.err.Error(), apiCalls: calls}
	case err != nil:
		return sourceFailure(err)
	}
	if err := w.appendRows(ctx, []backfill.Row{backfill.CompleteRow(task, rows, pages, fetchedAt)}); err != nil {
		return appendFailure(err, calls)
	}
	// The raw write's part 0 is committed with the outcome (RecordSuccessWithRaw).
	return result{kind: succeeded, rows: rows, apiCalls: calls, raw: raw}
}
