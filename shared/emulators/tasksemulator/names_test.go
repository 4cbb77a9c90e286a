package tasksemulator

import (
	"regexp"
	"strings"
	"testing"
)

// The hand-written checks must accept exactly what the documented patterns accept; the
// patterns are kept here as the reference.
func TestNamesMatchDocumentedPatterns(t *testing.T) {
	const p, l = `[A-Za-z0-9\-:.]+`, `[A-Za-z0-9-]+`
	queueRe := regexp.MustCompile(`^projects/` + p + `/locations/` + l + `/queues/[A-Za-z0-9-]{1,100}$`)
	taskRe := regexp.MustCompile(`^projects/` + p + `/locations/` + l + `/queues/[A-Za-z0-9-]{1,100}/tasks/[A-Za-z0-9_-]{1,500}$`)
	q := "projects/my-proj:x.y/locations/us-central1/queues/backfill"
	names := []string{
		q, q + "/tasks/abc_DEF-123", q + "/tasks/" + strings.Repeat("a", 500), q + "/tasks/" + strings.Repeat("a", 501),
		"projects/p/locations/l/queues/" + strings.Repeat("q", 100), "projects/p/locations/l/queues/" + strings.Repeat("q", 101),
		"projects/p/locations/l/queues/", "projects/p/locations/l/queues/q_1", "projects/p/locations/l/queues/q/tasks/",
		"projects/p/locations/l/queues/tasks/tasks/x", "projects/p/locations/l/queues/q/tasks/a/b", "projects/p/locations/l/queues/q/x/queues/y",
		"projects/p/locations/l/queues/q/tasks/a.b", "projects//locations/l/queues/q", "projects/p/locations/l/queues/q\n",
		"/projects/p/locations/l/queues/q", "projects/p/locations/l/queues/q/tasks/x/tasks/y", "projects/p/locations/l/queues/q/tasks/é",
		"", "projects/p/locations/l/queues/q/tasks/x ",
	}
	for _, n := range names {
		if got, want := checkQueueName(n) == nil, queueRe.MatchString(n); got != want {
			t.Errorf("checkQueueName(%q) accepted = %v, want %v", n, got, want)
		}
		if got, want := checkTaskName(n) == nil, taskRe.MatchString(n); got != want {
			t.Errorf("checkTaskName(%q) accepted = %v, want %v", n, got, want)
		}
	}
}
