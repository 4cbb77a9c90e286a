package runbackfilltask

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// kind is what became of one attempt of a task, before the job store is told.
type kind int

const (
	// succeeded: the rows are durable in BigQuery and the raw pages in Firestore.
	succeeded kind = iota + 1
	// transient: may pass if tried again (API 429/5xx/timeouts, BigQuery or Firestore unavailable).
	transient
	// permanent: can never pass as specified (API 400/404, a row BigQuery refuses, a malformed task).
	permanent
	// authRevoked: the OAuth grant is dead; only a person can reconnect the channel.
	authRevoked
	// jobCancelled: the job was cancelled; the task is skipped.
	jobCancelled
	// jobBlocked: the job is blocked (reason says why); the task is not run.
	jobBlocked
	// unrecordable: the body names no task of an existing job, so there is nowhere to record it.
	unrecordable
	// alreadyFinal: a redelivery of a task with a final outcome (reason is its state); nothing ran.
	alreadyFinal
)

// result is one attempt's outcome as the worker saw it.
type result struct {
	kind   kind
	reason string
	// rows and apiCalls are what the attempt produced and spent.
	rows, apiCalls int
	// retryAfter is the API's Retry-After, 0 when it gave none.
	retryAfter time.Duration
	// rateLimited is true when the API answered 429.
	rateLimited bool
	// raw holds a succeeded task's raw pages, committed with its outcome.
	raw *backfill.RawWriter
}

// storeCall is the one job-store call an outcome makes for its shard.
type storeCall int

const (
	callNone storeCall = iota
	callSuccess
	callRetrying
	callFailure
	callBlock // Block the job, then RecordFailure the shard
	callCancelled
	callAlreadyFinal // no store call: the shard's outcome is final
)

// decision is what the worker does with a result: the store call, the answer to Cloud Tasks and
// how loudly to log it.
type decision struct {
	call       storeCall
	reason     string // as recorded on the shard
	status     int
	retryAfter time.Duration
	level      slog.Level
}

// decide is the one place that maps an attempt's outcome to the job store call and the HTTP
// status Cloud Tasks acts on. Cloud Tasks retries any answer outside 2xx (with the queue's
// backoff, honouring Retry-After) until max_attempts, then drops the task silently; a 2xx
// deletes it. So only what may pass later is answered outside 2xx, and its last attempt is
// answered 200 after recording the failure, because once dropped nothing would record it.
func decide(r result, a attempt) decision {
	switch r.kind {
	case succeeded:
		// Recorded only now that the rows are durable: a crash before this line leaves the
		// shard pending, and the retry rewrites the same (job, shard, row_index) keys.
		return decision{call: callSuccess, status: http.StatusOK, level: slog.LevelInfo}
	case transient:
		if a.last() {
			// The queue drops the task after this answer: record the dead letter first.
			return decision{call: callFailure, reason: fmt.Sprintf("gave up after %d attempts: %s", a.number(), r.reason),
				status: http.StatusOK, level: slog.LevelError}
		}
		// 429 tells the queue (and whoever reads its logs) that the API is rate limiting us;
		// either way Retry-After makes Cloud Tasks wait at least as long as the API asked.
		status := http.StatusServiceUnavailable
		if r.rateLimited {
			status = http.StatusTooManyRequests
		}
		return decision{call: callRetrying, reason: r.reason, status: status, retryAfter: r.retryAfter, level: slog.LevelWarn}
	case permanent:
		// Retrying would fail the same way until max_attempts: fail now, answer 200.
		return decision{call: callFailure, reason: r.reason, status: http.StatusOK, level: slog.LevelWarn}
	case authRevoked:
		// Every task of the job would fail the same way: block the job so later tasks make no
		// API call, and fail this shard so that a retry after Unblock picks it up again.
		return decision{call: callBlock, reason: r.reason, status: http.StatusOK, level: slog.LevelError}
	case jobCancelled:
		return decision{call: callCancelled, status: http.StatusOK, level: slog.LevelInfo}
	case jobBlocked:
		// Answered 200, not retried: a blocked job waits for a person, and a queue of retrying
		// tasks would only burn attempts. A retry of the job's failed shards re-runs them.
		return decision{call: callFailure, reason: "job blocked: " + r.reason, status: http.StatusOK, level: slog.LevelWarn}
	case alreadyFinal:
		// A redelivery after a final outcome (the queue's or one whose 2xx was lost): 200 again.
		return decision{call: callAlreadyFinal, status: http.StatusOK, level: slog.LevelInfo}
	default: // unrecordable
		// Nothing to record it on, and a redelivery would not parse either: the log is the
		// dead letter.
		return decision{call: callNone, reason: r.reason, status: http.StatusOK, level: slog.LevelError}
	}
}
