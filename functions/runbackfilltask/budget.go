package runbackfilltask

import (
	"context"
	"errors"
	"fmt"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// runWithin runs the task with its work bounded by the worker's budget (WORK_TIMEOUT), which is
// below the tasks' dispatch deadline. When Cloud Tasks' deadline passes it stops waiting,
// counts the attempt failed and, on the last attempt, drops the task, while the instance may
// go on: a worker that outlived the deadline would record its outcome for no one, or never.
// Stopping the work first leaves the request time to record it: a task cut short by the budget
// is transient (retried, its partial fetch hidden by the dedup view's completion rule) or, on
// the queue's last attempt, failed. The outcome is recorded on the request's own context.
func (w *Worker) runWithin(ctx context.Context, task backfill.TaskSpec, named bool, parseErr error, redelivered bool) result {
	if w.budget <= 0 {
		return w.run(ctx, task, named, parseErr, redelivered)
	}
	workCtx, cancel := context.WithTimeout(ctx, w.budget)
	defer cancel()
	res := w.run(workCtx, task, named, parseErr, redelivered)
	if res.kind != succeeded && errors.Is(workCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		return result{kind: transient, apiCalls: res.apiCalls,
			reason: fmt.Sprintf("task ran out of its %s work budget (WORK_TIMEOUT): %s", w.budget, res.reason)}
	}
	return res
}
