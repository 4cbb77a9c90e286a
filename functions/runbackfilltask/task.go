package runbackfilltask

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

// maxBodyBytes bounds a task body: Cloud Tasks caps a task at 1 MB.
const maxBodyBytes = 1 << 20

// Cloud Tasks' request headers (cloud.google.com/tasks/docs/creating-http-target-tasks#handler).
const (
	HeaderQueueName        = "X-CloudTasks-QueueName"
	HeaderTaskName         = "X-CloudTasks-TaskName"
	HeaderRetryCount       = "X-CloudTasks-TaskRetryCount"
	HeaderExecutionCount   = "X-CloudTasks-TaskExecutionCount"
	HeaderETA              = "X-CloudTasks-TaskETA"
	HeaderPreviousResponse = "X-CloudTasks-TaskPreviousResponse"
	HeaderRetryReason      = "X-CloudTasks-TaskRetryReason"
)

// delivery is what Cloud Tasks says about this attempt of a task.
type delivery struct {
	Queue, Task string
	// RetryCount is how many times the task was attempted before (0 on the first attempt).
	RetryCount int
	// ExecutionCount is how many attempts got a response (the queue's 503s are not counted).
	ExecutionCount int
	ETA            time.Time
	// PreviousResponse is the HTTP status of the previous attempt, RetryReason why it was retried.
	PreviousResponse, RetryReason string
}

func readDelivery(h http.Header) delivery {
	d := delivery{
		Queue:            h.Get(HeaderQueueName),
		Task:             h.Get(HeaderTaskName),
		PreviousResponse: h.Get(HeaderPreviousResponse),
		RetryReason:      h.Get(HeaderRetryReason),
	}
	d.RetryCount, _ = strconv.Atoi(h.Get(HeaderRetryCount))
	d.ExecutionCount, _ = strconv.Atoi(h.Get(HeaderExecutionCount))
	// Seconds since the epoch, with a fraction.
	if s, err := strconv.ParseFloat(h.Get(HeaderETA), 64); err == nil && s > 0 {
		d.ETA = time.Unix(0, int64(s*1e9)).UTC()
	}
	return d
}

// attrs are the delivery's log fields.
func (d delivery) attrs() []any {
	out := []any{"queue", d.Queue, "task", d.Task, "retry_count", d.RetryCount, "execution_count", d.ExecutionCount}
	if !d.ETA.IsZero() {
		out = append(out, "eta", d.ETA)
	}
	if d.PreviousResponse != "" || d.RetryReason != "" {
		out = append(out, "previous_response", d.PreviousResponse, "retry_reason", d.RetryReason)
	}
	return out
}

// attempt says where this delivery stands among the queue's attempts.
type attempt struct {
	retryCount  int
	maxAttempts int // UnlimitedAttempts: no attempt is the last
}

// number is the attempt's number, from 1.
func (a attempt) number() int { return a.retryCount + 1 }

// last reports whether Cloud Tasks drops the task if this attempt fails.
func (a attempt) last() bool { return a.maxAttempts > 0 && a.number() >= a.maxAttempts }

// taskIdentity is the part of a body that names a task in the job store; it is read on its own
// so that a body whose other fields are broken can still be recorded as failed.
type taskIdentity struct {
	JobID string `json:"job_id"`
	Shard string `json:"shard"`
	Index *int   `json:"index"`
}

// parseTask decodes a task body. named is true when the body names a job, a shard and an
// index, so that an outcome can be recorded for it even when err says the rest is malformed.
func parseTask(body []byte) (task backfill.TaskSpec, named bool, err error) {
	var id taskIdentity
	if err := json.Unmarshal(body, &id); err != nil {
		return task, false, fmt.Errorf("the body is not a task: %w", err)
	}
	task.JobID, task.Shard = id.JobID, id.Shard
	if id.Index != nil {
		task.Index = *id.Index
	}
	named = id.JobID != "" && id.Shard != "" && id.Index != nil && *id.Index >= 0
	if !named {
		return task, false, errors.New("the body does not name a job_id, a shard and an index")
	}
	if err := json.Unmarshal(body, &task); err != nil {
		return task, true, fmt.Errorf("decoding the task: %w", err)
	}
	if err := backfill.CheckTask(task); err != nil {
		return task, true, err
	}
	return task, true, nil
}
