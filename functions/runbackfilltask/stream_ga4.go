package runbackfilltask

import (
	"context"
	"errors"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// GA4TaskMemory is the most a GA4 task adds to an instance's memory at any page size, the
// API's largest limit included: the body is decoded a row at a time (at most
// sources.GA4MaxRowBytes, and the decoder's read-ahead), records leave for BigQuery in batches
// of sources.GA4BatchRows rows and about sources.GA4BatchBytes (each held as records, rows,
// encoded values and the append request), and the raw body goes to Firestore through two
// parts of 900 KB. scripts/bench's ga4_memory measured 13 MB of RSS over the process's start
// for a 259,200-row report at 9 dimensions and 10 metrics, at limit 250,000 (without the
// BigQuery and Firestore clients' own copies, which the margin is for). A test in terraform/
// keeps RunBackfillTask's concurrency times it, over the instance's own footprint, within its
// memory.
const GA4TaskMemory = 24 << 20

// GA4Streamer streams one GA4 report (see sources.GA4.Stream); *LazyGA4 is one. A ga4 fetcher
// that is one runs the task streamed.
type GA4Streamer interface {
	StreamReport(ctx context.Context, q sources.GA4Query, sampled bool, sink sources.GA4Sink) (sources.GA4Summary, error)
}

// streamGA4 runs a GA4 task as its report arrives: each page's body goes to the raw writer in
// pieces and its records to BigQuery in batches while the page is still being read, so the
// task holds GA4TaskMemory at most whatever its size. The completion marker follows the last
// row, as for http_json. The report's sampling is known only after a page's rows; a fetch whose
// rows went out with the wrong "sampled" flag starts over once, under a new fetched_at (the
// rows of the abandoned fetch have no marker, so backfill_rows_dedup never shows them).
// Transient API failures are retried in-process as other sources' are (fetch).
func (w *Worker) streamGA4(ctx context.Context, src GA4Streamer, task backfill.TaskSpec) result {
	var raw *backfill.RawWriter
	var rows, pages, restarts, restartCalls int
	fetchedAt := w.now()
	sampled := false
	var q sources.GA4Query
	if err := backfill.Request(task, &q, "a ga4 query"); err != nil {
		return result{kind: permanent, reason: "malformed task: " + err.Error()}
	}
	attempt := func(ctx context.Context, t backfill.TaskSpec) (*sources.Result, error) {
		for {
			fetchedAt = w.now()
			raw = w.store.NewRawWriter(t.JobID, t.Shard)
			rows = 0
			sum, err := src.StreamReport(ctx, q, sampled, sources.GA4Sink{
				Records: func(first int, recs []map[string]any) error {
					if err := w.appendRows(ctx, ga4.Rows(t, recs, first, fetchedAt)); err != nil {
						return &stepError{err: err, append: true}
					}
					rows += len(recs)
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
			})
			var changed *sources.GA4SamplingError
			if errors.As(err, &changed) && restarts == 0 {
				restarts++
				sampled = changed.Sampled
				restartCalls += sum.APICalls
				continue
			}
			pages = sum.Pages
			return &sources.Result{APICalls: sum.APICalls, Quota: sum.Quota.Report()}, err
		}
	}
	res, spent, err := w.fetch(ctx, backfill.FetcherFunc(attempt), task)
	spent += restartCalls
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
