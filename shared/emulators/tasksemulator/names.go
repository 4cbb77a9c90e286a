package tasksemulator

import (
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The ID rules come from the Queue.name and Task.name field documentation.
var (
	projectID  = `[A-Za-z0-9\-:.]+`
	locationID = `[A-Za-z0-9-]+`
	queueID    = `[A-Za-z0-9-]{1,100}`
	taskID     = `[A-Za-z0-9_-]{1,500}`

	locationRe = regexp.MustCompile(`^projects/` + projectID + `/locations/` + locationID + `$`)
	queueRe    = regexp.MustCompile(`^projects/` + projectID + `/locations/` + locationID + `/queues/` + queueID + `$`)
	taskRe     = regexp.MustCompile(`^projects/` + projectID + `/locations/` + locationID + `/queues/` + queueID + `/tasks/` + taskID + `$`)
)

func invalidf(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}

func checkLocation(name string) error {
	if !locationRe.MatchString(name) {
		return invalidf("invalid location name %q: want projects/PROJECT_ID/locations/LOCATION_ID", name)
	}
	return nil
}

func checkQueueName(name string) error {
	if !queueRe.MatchString(name) {
		return invalidf("invalid queue name %q: want projects/PROJECT_ID/locations/LOCATION_ID/queues/QUEUE_ID, "+
			"QUEUE_ID of letters, numbers and hyphens, at most 100 characters", name)
	}
	return nil
}

func checkTaskName(name string) error {
	if !taskRe.MatchString(name) {
		return invalidf("invalid task name %q: want projects/PROJECT_ID/locations/LOCATION_ID/queues/QUEUE_ID/tasks/TASK_ID, "+
			"TASK_ID of letters, numbers, hyphens and underscores, at most 500 characters", name)
	}
	return nil
}

// queueOf returns the queue part of a valid task name.
func queueOf(taskName string) string {
	return taskName[:strings.LastIndex(taskName, "/tasks/")]
}

// shortID returns the last path segment of a resource name.
func shortID(name string) string { return name[strings.LastIndex(name, "/")+1:] }
