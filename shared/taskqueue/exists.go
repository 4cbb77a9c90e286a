package taskqueue

import (
	"context"
	"fmt"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exists reports whether the task of the caller's name (Task.Name) is still in the queue:
// waiting, in backoff or being dispatched. A task that answered 2xx, or that the queue dropped
// after its last attempt, or that was never created, does not exist (GetTask: NotFound).
func (e *Enqueuer) Exists(ctx context.Context, name string) (bool, error) {
	full := e.TaskName(name)
	_, err := e.client.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: full})
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.NotFound:
		return false, nil
	default:
		return false, fmt.Errorf("reading task %q (%s): %w", name, full, err)
	}
}
