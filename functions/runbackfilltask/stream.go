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

// PageStreamer is a Fetcher that can also run a task page by page, handing each page to fn as
// it arrives; the worker runs such a source's tasks streamed (stream). calls is the API calls
// made, also on failure.
type PageStreamer interface {
	StreamPages(ctx context.Context, t backfill.TaskSpec, fn func(sources.Page) error) (calls int, err error)
}

// stream runs a PageStreamer's task page by page: each page's raw body goes to Firestore and its
// rows to BigQuery as it arrives, so the instance holds a page or two whatever the task's size,
// and no append is bigger than a page's rows. When the last page is in, the fetch's completion
// marker is appended (the raw write ends in the outcome's commit): until then backfill_rows_dedup shows none of
// this fetch's rows (a fetch cut short by a failure, a deadline or a crash is never mixed with
// another).
func (w *Worker) stream(ctx context.Context, src PageStreamer, task backfill.TaskSpec) result {
	fetchedAt := w.now()
	raw := w.store.NewRawWriter(task.JobID, task.Shard)
	rows, pages := 0, 0
	var quota *sources.Quota
	calls, err := src.StreamPages(ctx, task, func(p sources.Page) error {
		if p.Quota != nil {
			quota = p.Quota
		}
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
	w.recordQuota(ctx, task, quota)
	// The raw write's part 0 is committed with the outcome (RecordSuccessWithRaw).
	return result{kind: succeeded, rows: rows, apiCalls: calls, raw: raw}
}
