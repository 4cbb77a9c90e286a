package runbackfilltask

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// DefaultAPIRetries is how many in-process retries NewHandler gives a delivery's transient API
// failure. Each retry handed to the queue instead costs a whole dispatch (of the queue's 500/s)
// and an outcome commit (retrying); a brief failure usually passes on the next call.
const DefaultAPIRetries = 2

// In-process retries wait apiRetryWait, doubled each time and jittered; a failure that asks for
// a longer wait (Retry-After above apiRetryMaxWait) goes to the queue, which honours it.
const (
	apiRetryWait    = 50 * time.Millisecond
	apiRetryMaxWait = 500 * time.Millisecond
)

// fetch runs the task through its source's fetcher, retrying a transient failure up to w.apiRetries times in-process when the
// API asked for no wait longer than apiRetryMaxWait and the request's deadline leaves room. spent
// is the API calls the failed attempts made (the last error's calls are left to sourceFailure).
func (w *Worker) fetch(ctx context.Context, f backfill.Fetcher, task backfill.TaskSpec) (res *sources.Result, spent int, err error) {
	wait := apiRetryWait
	for try := 0; ; try++ {
		res, err = f.Fetch(ctx, task)
		if err == nil || try == w.apiRetries || sources.KindOf(err) != sources.Transient {
			return res, spent, err
		}
		d := wait/2 + rand.N(wait/2+1)
		var se *sources.Error
		if errors.As(err, &se) && se.RetryAfter > 0 {
			if se.RetryAfter > apiRetryMaxWait {
				return res, spent, err
			}
			d = max(d, se.RetryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d+time.Second {
			return res, spent, err
		}
		spent += callsMade(err)
		select {
		case <-ctx.Done():
			return nil, spent - callsMade(err), err
		case <-time.After(d):
		}
		wait *= 2
	}
}

// alreadyFinal reads the task's shard on a redelivery: one whose outcome is final (the first
// delivery's commit landed though its answer never reached the queue, or the queue delivered
// twice) makes no API call and appends no rows again.
func (w *Worker) alreadyFinal(ctx context.Context, task backfill.TaskSpec) (result, bool) {
	state, err := w.store.ShardState(ctx, task.JobID, task.Index)
	if err != nil || !backfill.Final(state) {
		// Unreadable: run the task; its outcome's commit stays exactly once.
		return result{}, false
	}
	return result{kind: alreadyFinal, reason: state}, true
}
