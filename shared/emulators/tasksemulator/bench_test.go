package tasksemulator

import (
	"context"
	"runtime"
	"testing"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
)

// BenchmarkCreateTask measures CreateTask through the official client over
// loopback with 64 concurrent callers (on 2 cores: parallelism 32 per P) into
// a paused queue, so only the create path is measured.
func BenchmarkCreateTask(b *testing.B) {
	srv, client := newTestServer(b)
	mustCreateQueue(b, client, "bench", nil)
	q := queueName("bench")
	if _, err := srv.PauseQueue(context.Background(), &cloudtaskspb.PauseQueueRequest{Name: q}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(max(1, 64/testingProcs()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := &cloudtaskspb.CreateTaskRequest{Parent: q, Task: httpTask("http://127.0.0.1:1/work")}
		for pb.Next() {
			if _, err := client.CreateTask(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }
