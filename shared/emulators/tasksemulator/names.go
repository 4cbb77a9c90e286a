package tasksemulator

import (
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The ID rules come from the Queue.name and Task.name field documentation. The queue and task
// IDs are checked by hand: as regexps their counted repetitions ({1,100}, {1,500}) compile to
// hundreds of states that every CreateTask ran through, a tenth of the emulator's CPU while a
// backfill fans out.
var locationRe = regexp.MustCompile(`^projects/[A-Za-z0-9\-:.]+/locations/[A-Za-z0-9-]+$`)

const (
	maxQueueIDLen = 100
	maxTaskIDLen  = 500
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
	if !validQueueName(name) {
		return invalidf("invalid queue name %q: want projects/PROJECT_ID/locations/LOCATION_ID/queues/QUEUE_ID, "+
			"QUEUE_ID of letters, numbers and hyphens, at most 100 characters", name)
	}
	return nil
}

func checkTaskName(name string) error {
	i := strings.LastIndex(name, "/tasks/")
	if i < 0 || !validQueueName(name[:i]) || !validID(name[i+len("/tasks/"):], maxTaskIDLen, true) {
		return invalidf("invalid task name %q: want projects/PROJECT_ID/locations/LOCATION_ID/queues/QUEUE_ID/tasks/TASK_ID, "+
			"TASK_ID of letters, numbers, hyphens and underscores, at most 500 characters", name)
	}
	return nil
}

// validQueueName reports whether name is projects/P/locations/L/queues/Q. No ID holds a '/', so
// the last "/queues/" is the only place the name can split.
func validQueueName(name string) bool {
	i := strings.LastIndex(name, "/queues/")
	return i >= 0 && locationRe.MatchString(name[:i]) && validID(name[i+len("/queues/"):], maxQueueIDLen, false)
}

// validID reports whether id is 1 to maxLen letters, digits and hyphens (and underscores when
// underscore is set).
func validID(id string, maxLen int, underscore bool) bool {
	if len(id) == 0 || len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		case c == '_' && underscore:
		default:
			return false
		}
	}
	return true
}

// queueOf returns the queue part of a valid task name.
func queueOf(taskName string) string {
	return taskName[:strings.LastIndex(taskName, "/tasks/")]
}

// shortID returns the last path segment of a resource name.
func shortID(name string) string { return name[strings.LastIndex(name, "/")+1:] }
