package drills

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
)

// drillSize multiplies every drill's backfill and stream, for longer runs than the default one:
// go test ./shared/localstack/drills -run Drill -drills.size=10.
var drillSize = flag.Int("drills.size", 1, "multiplies the size of the fault drills' backfills and streams")

// Each drill's backfill: drillVideos*size videos over drillDays days, one task and one row per
// (video, day).
const (
	drillVideos = 4
	drillDays   = 10
)

// drillQueue is the backfill queue the drills run on. Terraform's default retry config waits
// 10 s (min_backoff) before the first retry and doubles from there: right for YouTube's quota in
// production, but it would make every drill wait minutes for what it tests, which is what the
// pipeline does when attempts fail and come back, not how long the production queue waits
// between them. So the backoffs are short and the rate high; the attempts are enough that a
// task failing 40% of the time still ends (0.4^20 is about 1e-8).
func drillQueue(concurrency int) localstack.QueueConfig {
	return localstack.QueueConfig{
		MaxDispatchesPerSecond:  200,
		MaxConcurrentDispatches: concurrency,
		MaxAttempts:             20,
		MinBackoff:              100 * time.Millisecond,
		MaxBackoff:              time.Second,
		MaxDoublings:            4,
	}
}

// startQuarterDone starts a stack whose queue runs concurrency tasks at a time against an API
// answering after latency, starts the drill's backfill, and returns once a quarter of its tasks
// succeeded: the point where the drills that break something mid-job break it.
func startQuarterDone(t *testing.T, concurrency int, latency time.Duration) (s *localstack.Stack, job string, planned int, st *backfill.Status) {
	t.Helper()
	s = startDrillStack(t, &localstack.BackfillOptions{Queue: drillQueue(concurrency),
		Fakes: map[string][]sourcestest.Option{"youtube_analytics": {sourcestest.WithLatency(latency)}}})
	job, planned = startDrillBackfill(t, s)
	st = waitStatus(t, s, job, "a quarter of the tasks succeeded", func(st *backfill.Status) bool {
		return st.Counts.Succeeded >= planned/4
	})
	return s, job, planned, st
}

// startDrillStack starts a stack of its own for one drill (its faults are the stack's), with
// the backfill half when b is not nil. When the drill fails, the end of the functions' log is
// printed, since it says what each task and message went through. opts adjust the stack's
// options (such as turning the rankings on).
func startDrillStack(t *testing.T, b *localstack.BackfillOptions, opts ...func(*localstack.Options)) *localstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	logs := &functest.Buffer{}
	o := localstack.Options{Project: gcloudemu.NewProjectID(t), Logs: logs, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Backfill: b}
	for _, f := range opts {
		f(&o)
	}
	s, err := localstack.Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	// Registered after Close, so it runs before it.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("end of the functions' log:\n%s", logs.Tail(6000))
		}
	})
	return s
}

// startDrillBackfill starts the drill-sized YouTube backfill and checks its plan.
func startDrillBackfill(t *testing.T, s *localstack.Stack) (job string, planned int) {
	t.Helper()
	videos, days := drillVideos**drillSize, drillDays
	c, err := s.StartBackfill(context.Background(), youtubefake.Spec(videos, days, "day", time.Now().UTC().AddDate(0, 0, -3)))
	if err != nil {
		t.Fatalf("StartBackfill: %v", err)
	}
	if c.PlannedTasks != videos*days {
		t.Fatalf("StartBackfill planned %d tasks, want %d", c.PlannedTasks, videos*days)
	}
	return c.JobID, c.PlannedTasks
}

// drillTimeout bounds every wait of a drill; generous, since a drill that works ends in seconds.
func drillTimeout() time.Duration { return time.Duration(*drillSize) * 90 * time.Second }

// waitStatus polls a job's status until cond holds, and fails the test after timeout.
func waitStatus(t *testing.T, s *localstack.Stack, job string, what string, cond func(*backfill.Status) bool) *backfill.Status {
	t.Helper()
	deadline := time.Now().Add(drillTimeout())
	for {
		st, err := s.BackfillStatus(context.Background(), job)
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("backfill %s: %s not reached after %s: status %+v, error %v", job, what, drillTimeout(), st, err)
		}
		<-time.After(50 * time.Millisecond)
	}
}

// waitBackfill waits until a job ends and the queue holds none of its tasks any more (a task
// whose answer was lost is delivered again after the job looks finished), and returns the
// job's status then.
func waitBackfill(t *testing.T, s *localstack.Stack, job string) *backfill.Status {
	t.Helper()
	ctx := context.Background()
	if _, err := s.WaitBackfill(ctx, job, drillTimeout(), nil); err != nil {
		t.Fatalf("WaitBackfill: %v", err)
	}
	ictx, cancel := context.WithTimeout(ctx, drillTimeout())
	defer cancel()
	if err := s.Backfill.Tasks.WaitIdle(ictx, s.Backfill.Queue); err != nil {
		t.Fatalf("the backfill queue still holds %d tasks after the job ended: %v", len(s.Backfill.Tasks.Tasks(s.Backfill.Queue)), err)
	}
	st, err := s.BackfillStatus(ctx, job)
	if err != nil {
		t.Fatalf("BackfillStatus: %v", err)
	}
	return st
}

// captureLines builds a drill's stream: tweets with distinct ids and limit notices, n in all.
func captureLines(n int) []string {
	lines := make([]string, 0, n)
	for i := range n {
		if i%5 == 4 {
			lines = append(lines, fmt.Sprintf(`{"limit":{"track":%d,"timestamp_ms":"1415022932124"}}`, 1000+i))
			continue
		}
		lines = append(lines, fmt.Sprintf(`{"created_at":"Mon Oct 26 09:35:18 +0000 2015","id_str":"%d","text":"drill tweet %d #go",`+
			`"lang":"en","user":{"id_str":"7","screen_name":"drill"},"entities":{"hashtags":[{"text":"go"}]}}`, 658224858933900000+i, i))
	}
	return lines
}

// writeCapture writes lines as an NDJSON capture and returns its path.
func writeCapture(t *testing.T, lines []string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "capture.ndjson")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// streamKeys are the dedup views' keys: for each table with a dedup view, the column the view
// keeps one row per.
var streamKeys = []struct{ table, key, view string }{
	{event.TableTweets, "tweet_id", event.TableTweets + "_dedup"},
	{event.TableStreamEvents, "message_id", event.TableStreamEvents + "_dedup"},
	{event.TableAppEvents, "event_id", event.TableAppEvents + "_dedup"},
}

// streamTruth counts, for a table with a dedup view, its rows, its distinct keys and the view's
// rows. Every drill has a stack and so a dataset of its own: whole tables are the drill's.
func streamTruth(ctx context.Context, s *localstack.Stack, table, key, view string) (localstack.RowTruth, error) {
	q := fmt.Sprintf("SELECT (SELECT COUNT(*) FROM `%[1]s.%[2]s.%[3]s`) AS n, "+
		"(SELECT COUNT(*) FROM (SELECT DISTINCT %[4]s FROM `%[1]s.%[2]s.%[3]s`)) AS k, "+
		"(SELECT COUNT(*) FROM `%[1]s.%[2]s.%[5]s`) AS d", s.Project, s.Dataset, table, key, view)
	rows, err := s.BigQuery.Query(ctx, q)
	if err != nil {
		return localstack.RowTruth{}, fmt.Errorf("counting rows of %s: %w", table, err)
	}
	r := rows[0]
	return localstack.RowTruth{Rows: int(r["n"].(int64)), Keys: int(r["k"].(int64)), DedupRows: int(r["d"].(int64))}, nil
}

// workerRecords returns the queue's attempts that went to the worker (not expansion tasks).
func workerRecords(s *localstack.Stack) []tasksemulator.DispatchRecord {
	var out []tasksemulator.DispatchRecord
	for _, r := range s.Backfill.Tasks.Dispatched() {
		if strings.HasSuffix(r.URL, "/RunBackfillTask") {
			out = append(out, r)
		}
	}
	return out
}

// forceWorkerTasks runs every worker task of the queue once more at once, with Cloud Tasks'
// RunTask, as soon as they are in the queue (so mostly while their first attempt is in flight),
// and returns how many it forced.
func forceWorkerTasks(t *testing.T, s *localstack.Stack) int {
	t.Helper()
	ctx := context.Background()
	var tasks []*cloudtaskspb.Task
	deadline := time.Now().Add(drillTimeout())
	for len(tasks) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no worker task reached the queue after %s", drillTimeout())
		}
		for _, task := range s.Backfill.Tasks.Tasks(s.Backfill.Queue) {
			if strings.HasSuffix(task.GetHttpRequest().GetUrl(), "/RunBackfillTask") {
				tasks = append(tasks, task)
			}
		}
		if len(tasks) == 0 {
			<-time.After(10 * time.Millisecond)
		}
	}
	forced := 0
	for _, task := range tasks {
		_, err := s.Backfill.TasksClient.RunTask(ctx, &cloudtaskspb.RunTaskRequest{Name: task.GetName()})
		switch {
		case err == nil:
			forced++
		case status.Code(err) != codes.NotFound: // NotFound: it finished meanwhile
			t.Errorf("RunTask(%s): %v", task.GetName(), err)
		}
	}
	if forced == 0 {
		t.Fatalf("every task finished before it could be forced: the drill tested nothing")
	}
	t.Logf("forced a second attempt of %d tasks", forced)
	return forced
}

// answer is the part of RunBackfillTask's answer the drills read.
type answer struct {
	Outcome   string `json:"outcome"`
	Duplicate bool   `json:"duplicate"`
}
