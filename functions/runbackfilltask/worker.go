package runbackfilltask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// Store is the job store the worker reads the job from and records outcomes in;
// *backfill.Store is one.
type Store interface {
	GetJob(ctx context.Context, id string) (*backfill.Job, error)
	ShardState(ctx context.Context, job string, index int) (string, error)
	NewRawWriter(job, shard string) *backfill.RawWriter
	RecordSuccessWithRaw(ctx context.Context, job string, ref backfill.ShardRef, rows, apiCalls int, raw *backfill.RawWriter) (bool, error)
	RecordFailure(ctx context.Context, job string, ref backfill.ShardRef, reason string, apiCalls int) (bool, error)
	RecordRetrying(ctx context.Context, job string, ref backfill.ShardRef, reason string, apiCalls int) error
	RecordCancelled(ctx context.Context, job string, ref backfill.ShardRef) (bool, error)
	Block(ctx context.Context, id, reason string) error
}

// Appender writes rows to a table; *warehouse.Writer is one.
type Appender interface {
	Append(ctx context.Context, table string, rows []map[string]any) error
}

// Options are the Worker's optional settings.
type Options struct {
	// MaxAttempts is the queue's max_attempts (QUEUE_MAX_ATTEMPTS); 0 means
	// DefaultQueueMaxAttempts, UnlimitedAttempts means no attempt is the last.
	MaxAttempts int
	// Now stamps fetched_at; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per task; nil means slog.Default().
	Logger *slog.Logger
	// Fetchers run the tasks of each source, by source name (NewHandler: backfill.Fetchers).
	Fetchers map[string]backfill.Fetcher
	// JobCacheTTL is how long the worker keeps a job's state (see jobCache); 0 reads the job on
	// every delivery. NewHandler sets DefaultJobCacheTTL.
	JobCacheTTL time.Duration
	// APIRetries is how many times one delivery retries a transient API failure in-process
	// before answering the queue (see fetch); 0: none. NewHandler sets DefaultAPIRetries.
	APIRetries int
	// MaxCommits bounds this instance's outcome commits in flight (see commitSlots); 0: no bound.
	// NewHandler sets DefaultMaxCommits.
	MaxCommits int
	// Budget bounds a task's work (WORK_TIMEOUT; 0: no bound): see runWithin.
	Budget time.Duration
}

// QuotaRecorder keeps the quota figures an API reported for a task; *backfill.Store is one.
// A Store without it records none.
type QuotaRecorder interface {
	RecordQuota(ctx context.Context, job string, ref backfill.ShardRef, q *sources.Quota) error
}

// Worker runs backfill tasks delivered by Cloud Tasks: it fetches the task's data, keeps the
// raw pages, appends the rows and records the outcome. It is an http.Handler, safe for
// concurrent requests.
type Worker struct {
	store       Store
	rows        Appender
	fetchers    map[string]backfill.Fetcher
	maxAttempts int
	budget      time.Duration
	now         func() time.Time
	log         *slog.Logger
	jobs        *jobCache
	apiRetries  int
	commits     commitSlots
}

// NewWorker returns a Worker recording in store, appending to rows, and fetching through
// opts.Fetchers.
func NewWorker(store Store, rows Appender, opts Options) *Worker {
	w := &Worker{store: store, rows: rows, fetchers: opts.Fetchers,
		maxAttempts: opts.MaxAttempts, budget: opts.Budget, now: opts.Now, log: newLogger(opts.Logger),
		jobs: newJobCache(store, opts.JobCacheTTL, time.Now), apiRetries: opts.APIRetries,
		commits: newCommitSlots(opts.MaxCommits)}
	if w.maxAttempts == 0 {
		w.maxAttempts = DefaultQueueMaxAttempts
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w
}

// Answer is the JSON body of every response, for people reading the queue's logs.
type Answer struct {
	// Outcome is succeeded, retrying, failed, blocked, cancelled or dropped.
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	Rows    int    `json:"rows,omitempty"`
	// Duplicate is true when the task already had a final outcome: nothing changed.
	Duplicate bool `json:"duplicate,omitempty"`
}

// ServeHTTP runs one delivery of one task.
func (w *Worker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := readDelivery(r.Header)
	body, readErr := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxBodyBytes))
	var task backfill.TaskSpec
	var named bool
	var parseErr error
	if readErr != nil {
		parseErr = fmt.Errorf("reading the body: %w", readErr)
	} else {
		task, named, parseErr = parseTask(body)
	}
	log := w.log.With(append([]any{"job_id", task.JobID, "shard", task.Shard, "index", task.Index}, d.attrs()...)...)
	log.DebugContext(ctx, "backfill task received", "source", task.Source)

	res := w.runWithin(ctx, task, named, parseErr, d.RetryCount > 0)
	a := attempt{retryCount: d.RetryCount, maxAttempts: w.maxAttempts}
	dec := decide(res, a)
	w.apply(ctx, rw, task, res, dec, a, body, log)
}

// run does the task's work and says how it went; it records nothing.
// A redelivery (redelivered) of a task that already has a final outcome does nothing but say so.
func (w *Worker) run(ctx context.Context, task backfill.TaskSpec, named bool, parseErr error, redelivered bool) result {
	if !named {
		return result{kind: unrecordable, reason: "malformed task: " + parseErr.Error()}
	}
	// The job's state comes first, so a cancelled or blocked job's tasks make no API call.
	job, err := w.jobs.get(ctx, task.JobID)
	switch {
	case errors.Is(err, backfill.ErrNotFound):
		return result{kind: unrecordable, reason: fmt.Sprintf("backfill job %s does not exist", task.JobID)}
	case err != nil:
		return result{kind: transient, reason: err.Error()}
	case job.Cancelled || job.State == backfill.JobCancelled:
		return result{kind: jobCancelled}
	case job.State == backfill.JobBlocked:
		return result{kind: jobBlocked, reason: job.Blocked}
	}
	if parseErr != nil {
		return result{kind: permanent, reason: "malformed task: " + parseErr.Error()}
	}
	if redelivered {
		if res, done := w.alreadyFinal(ctx, task); done {
			return res
		}
	}

	fetcher, ok := w.fetchers[task.Source]
	if !ok {
		return result{kind: permanent, reason: fmt.Sprintf("this worker has no fetcher for source %s", task.Source)}
	}
	if st, ok := fetcher.(PageStreamer); ok {
		return w.stream(ctx, st, task)
	}
	if st, ok := fetcher.(backfill.SinkStreamer); ok {
		return w.streamSink(ctx, st, task)
	}
	res, spent, err := w.fetch(ctx, fetcher, task)
	if err != nil {
		r := sourceFailure(err)
		r.apiCalls += spent
		return r
	}
	calls := res.APICalls + spent
	// The raw pages are committed with the outcome (RecordSuccessWithRaw); only parts beyond the
	// first are written now. Their ids come from the shard, so a retry overwrites rather than adds.
	raw := w.store.NewRawWriter(task.JobID, task.Shard)
	for _, p := range res.Pages {
		if err := raw.Add(ctx, p); err != nil {
			return result{kind: transient, reason: err.Error(), apiCalls: calls}
		}
	}
	fetchedAt := w.now()
	rows := backfill.RowsOf(task, res, fetchedAt)
	// The rows and the marker of a complete fetch go in one call.
	rows = append(rows, backfill.CompleteRow(task, len(rows), len(res.Pages), fetchedAt))
	if err := w.appendRows(ctx, rows); err != nil {
		return appendFailure(err, calls)
	}
	w.recordQuota(ctx, task, res.Quota)
	return result{kind: succeeded, rows: len(rows) - 1, apiCalls: calls, raw: raw}
}

// recordQuota keeps the quota figures an API reported for the task, when the store keeps them.
func (w *Worker) recordQuota(ctx context.Context, task backfill.TaskSpec, q *sources.Quota) {
	if qr, ok := w.store.(QuotaRecorder); ok && q != nil {
		// The figures inform people; failing to keep them does not fail the task.
		if err := qr.RecordQuota(ctx, task.JobID, task.Ref(), q); err != nil {
			w.log.WarnContext(ctx, "recording the API's quota figures failed", "job_id", task.JobID, "shard", task.Shard, "error", err)
		}
	}
}

// appendRows appends rows to backfill_rows.
func (w *Worker) appendRows(ctx context.Context, rows []backfill.Row) error {
	values := make([]map[string]any, len(rows))
	for i, row := range rows {
		values[i] = event.Values(row)
	}
	return w.rows.Append(ctx, backfill.TableRows, values)
}

// appendFailure turns an append error into a result.
func appendFailure(err error, apiCalls int) result {
	var rowErrs *warehouse.RowErrors
	if errors.As(err, &rowErrs) {
		// BigQuery will refuse these bytes every time.
		return result{kind: permanent, reason: rowErrs.Error(), apiCalls: apiCalls}
	}
	return result{kind: transient, reason: err.Error(), apiCalls: apiCalls}
}

// sourceFailure turns a sources error into a result.
func sourceFailure(err error) result {
	r := result{reason: err.Error(), apiCalls: callsMade(err)}
	var se *sources.Error
	if errors.As(err, &se) {
		r.retryAfter, r.rateLimited = se.RetryAfter, se.Status == http.StatusTooManyRequests
	}
	switch sources.KindOf(err) {
	case sources.Permanent:
		r.kind = permanent
	case sources.AuthRevoked:
		r.kind = authRevoked
	default:
		// Transient, and anything sources did not classify: the queue's retries are bounded.
		r.kind = transient
	}
	return r
}

// callsMade is the API calls a failed fetch made, as sources counted them (a retried 401, the
// pages before a failing one); failures before any call (the token endpoint) made none.
func callsMade(err error) int {
	var re *oauth2.RetrieveError
	var se *sources.Error
	switch {
	case errors.As(err, &re) || !errors.As(err, &se):
		return 0
	case se.APICalls > 0:
		return se.APICalls
	case se.Status != 0:
		return 1
	}
	return 0
}

// apply makes the decision's one store call and answers Cloud Tasks.
func (w *Worker) apply(ctx context.Context, rw http.ResponseWriter, task backfill.TaskSpec, res result, dec decision,
	a attempt, body []byte, log *slog.Logger) {
	ref := task.Ref()
	first := true
	var outcome string
	err := w.commits.acquire(ctx)
	if err == nil {
		defer w.commits.release()
	}
	switch {
	case err != nil:
		outcome = "unrecorded"
	case dec.call == callSuccess:
		outcome = backfill.ShardSucceeded
		first, err = w.store.RecordSuccessWithRaw(ctx, task.JobID, ref, res.rows, res.apiCalls, res.raw)
	case dec.call == callRetrying:
		outcome = backfill.ShardRetrying
		err = w.store.RecordRetrying(ctx, task.JobID, ref, dec.reason, res.apiCalls)
	case dec.call == callFailure:
		outcome = backfill.ShardFailed
		first, err = w.store.RecordFailure(ctx, task.JobID, ref, dec.reason, res.apiCalls)
	case dec.call == callBlock:
		outcome = backfill.JobBlocked
		if err = w.store.Block(ctx, task.JobID, dec.reason); err == nil {
			w.jobs.blocked(task.JobID, dec.reason)
			first, err = w.store.RecordFailure(ctx, task.JobID, ref, "job blocked: "+dec.reason, res.apiCalls)
		}
	case dec.call == callCancelled:
		outcome = backfill.ShardCancelled
		first, err = w.store.RecordCancelled(ctx, task.JobID, ref)
	case dec.call == callAlreadyFinal:
		outcome, first = res.reason, false
	default:
		outcome = "dropped"
	}
	if err != nil {
		// The outcome is not recorded, so the task must run again: 500 makes Cloud Tasks
		// redeliver it, and the redelivery rewrites the same raw ids and row keys. On the last
		// attempt the queue drops it anyway; this line is then its only trace.
		log.ErrorContext(ctx, "recording the backfill task outcome failed", "outcome", outcome, "reason", dec.reason,
			"error", err, "last_attempt", a.last(), "body", string(body))
		writeAnswer(rw, http.StatusInternalServerError, 0, Answer{Outcome: "unrecorded", Reason: err.Error()})
		return
	}
	attrs := []any{"outcome", outcome, "status", dec.status, "attempt", a.number(), "rows", res.rows, "api_calls", res.apiCalls}
	if dec.reason != "" {
		attrs = append(attrs, "reason", dec.reason)
	}
	if !first {
		attrs = append(attrs, "duplicate", true)
	}
	if dec.call == callNone {
		attrs = append(attrs, "body", string(body))
	}
	log.Log(ctx, dec.level, "backfill task "+outcome, attrs...)
	writeAnswer(rw, dec.status, dec.retryAfter, Answer{Outcome: outcome, Reason: dec.reason, Rows: res.rows, Duplicate: !first})
}

func writeAnswer(rw http.ResponseWriter, status int, retryAfter time.Duration, a Answer) {
	if retryAfter > 0 {
		// Whole seconds, rounded up: waiting less than the API asked would be refused again.
		rw.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	json.NewEncoder(rw).Encode(a) //nolint:errcheck // the client may be gone; nothing to do
}

// newLogger returns l, or slog.Default() when l is nil.
func newLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
