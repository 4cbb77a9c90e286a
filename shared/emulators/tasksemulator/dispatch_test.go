package tasksemulator

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		name string
		rc   *cloudtaskspb.RetryConfig
		want []time.Duration
	}{
		// The RetryConfig.max_doublings example from the reference.
		{"reference example", fastRetry(10, 10*time.Second, 300*time.Second, 3),
			[]time.Duration{10, 20, 40, 80, 160, 240, 300, 300}},
		{"no growth past max", fastRetry(10, time.Second, 5*time.Second, 16),
			[]time.Duration{1, 2, 4, 5, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []time.Duration
			for i := range tt.want {
				got = append(got, backoff(tt.rc, i+1)/time.Second)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("backoff() seconds mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if got, want := backoff(fastRetry(100, 100*time.Millisecond, time.Hour, 16), 100), time.Hour; got != want {
		t.Errorf("backoff(defaults, 100) = %v, want %v", got, want)
	}
}

func TestExhausted(t *testing.T) {
	first := epoch
	tests := []struct {
		name     string
		attempts int32
		dur      time.Duration
		tried    int
		elapsed  time.Duration
		want     bool
	}{
		{"attempts left", 3, 0, 2, 0, false},
		{"attempts used", 3, 0, 3, 0, true},
		{"attempts used, duration not", 3, time.Hour, 3, time.Minute, false},
		{"both used", 3, time.Hour, 3, time.Hour, true},
		{"unlimited", -1, 0, 1000, 100 * time.Hour, false},
		{"unlimited attempts, duration used", -1, time.Hour, 2, time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := fastRetry(tt.attempts, time.Second, time.Second, 1)
			if tt.dur > 0 {
				rc.MaxRetryDuration = durationpb.New(tt.dur)
			}
			if got := exhausted(rc, tt.tried, first, first.Add(tt.elapsed)); got != tt.want {
				t.Errorf("exhausted(max %d, %v; tried %d after %v) = %v, want %v", tt.attempts, tt.dur, tt.tried, tt.elapsed, got, tt.want)
			}
		})
	}
}

// TestRetryTimingsAndDrop steps a always-failing task through its retries on
// the fake clock: min 1s, max 10s, 2 doublings, 6 attempts.
func TestRetryTimingsAndDrop(t *testing.T) {
	srv, client, clock := newFakeServer(t)
	target := newTarget(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	mustCreateQueue(t, client, "retry", &cloudtaskspb.Queue{RetryConfig: fastRetry(6, time.Second, 10*time.Second, 2)})
	q := queueName("retry")
	task := mustCreateTask(t, client, q, httpTask(target.URL))
	ctx := waitCtx(t)
	wantDelays := []time.Duration{1, 2, 4, 8, 10} // seconds: doubled twice, then +4s steps, capped at 10s
	for i, d := range wantDelays {
		if _, err := srv.WaitDispatched(ctx, i+1); err != nil {
			t.Fatal(err)
		}
		tasks := srv.Tasks(q)
		if len(tasks) != 1 {
			t.Fatalf("after attempt %d: %d tasks, want 1", i+1, len(tasks))
		}
		got := tasks[0]
		if want := clock.Now().Add(d * time.Second); !got.GetScheduleTime().AsTime().Equal(want) {
			t.Errorf("after attempt %d: schedule_time = %v, want now+%ds = %v", i+1, got.GetScheduleTime().AsTime(), d, want)
		}
		if got.GetDispatchCount() != int32(i+1) || got.GetResponseCount() != int32(i+1) {
			t.Errorf("after attempt %d: dispatch_count %d response_count %d, want %d each", i+1, got.GetDispatchCount(), got.GetResponseCount(), i+1)
		}
		if got.GetLastAttempt().GetResponseStatus().GetCode() != int32(codes.Internal) {
			t.Errorf("after attempt %d: last_attempt.response_status = %v, want INTERNAL", i+1, got.GetLastAttempt().GetResponseStatus())
		}
		// Stepping to 1ns before the due time first: an early dispatch would show in the gaps below.
		clock.Advance(d*time.Second - time.Nanosecond)
		clock.Advance(time.Nanosecond)
	}
	recs, err := srv.WaitDispatched(ctx, 6)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitIdle(ctx, q); err != nil {
		t.Fatal(err)
	}
	var gaps []time.Duration
	for i := 1; i < len(recs); i++ {
		gaps = append(gaps, recs[i].DispatchTime.Sub(recs[i-1].DispatchTime)/time.Second)
	}
	if diff := cmp.Diff(wantDelays, gaps); diff != "" {
		t.Errorf("gaps between dispatches (s) mismatch (-want +got):\n%s", diff)
	}
	if got := len(srv.Tasks(q)); got != 0 {
		t.Errorf("after max_attempts: %d tasks left, want the task dropped", got)
	}
	if _, err := client.GetTask(context.Background(), &cloudtaskspb.GetTaskRequest{Name: task.GetName()}); err == nil {
		t.Errorf("GetTask(dropped task) error = nil, want NotFound")
	}
}

// TestDispatchHeaders checks the service headers over four attempts: 503, 404, 500 and 200.
func TestDispatchHeaders(t *testing.T) {
	srv, client, clock := newFakeServer(t)
	target := newTarget(t, statusResponder(503, 404, 500, 200))
	mustCreateQueue(t, client, "hdr", &cloudtaskspb.Queue{RetryConfig: fastRetry(10, time.Second, time.Second, 1)})
	q := queueName("hdr")
	tk := httpTask(target.URL + "/path?x=1")
	tk.Name = q + "/tasks/my-task"
	tk.GetHttpRequest().Body = []byte("payload")
	tk.GetHttpRequest().Headers = map[string]string{
		"Content-Type": "application/json", "X-Custom": "v",
		"User-Agent": "mine", "X-CloudTasks-TaskName": "forged", "X-Google-Thing": "g",
	}
	mustCreateTask(t, client, q, tk)
	type hdrs struct{ Retry, Exec, Prev, Reason, ETA string }
	var got []hdrs
	var wantETA []string
	for i := range 4 {
		a := target.next(t)
		if i == 0 {
			for k, want := range map[string]string{
				"User-Agent": "Google-Cloud-Tasks", "X-CloudTasks-QueueName": "hdr", "X-CloudTasks-TaskName": "my-task",
				"Content-Type": "application/json", "X-Custom": "v", "X-Google-Thing": "",
			} {
				if v := a.header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			if a.body != "payload" {
				t.Errorf("body = %q, want %q", a.body, "payload")
			}
		}
		got = append(got, hdrs{
			a.header.Get("X-CloudTasks-TaskRetryCount"), a.header.Get("X-CloudTasks-TaskExecutionCount"),
			a.header.Get("X-CloudTasks-TaskPreviousResponse"), a.header.Get("X-CloudTasks-TaskRetryReason"),
			a.header.Get("X-CloudTasks-TaskETA"),
		})
		at := epoch.Add(time.Duration(i) * time.Second)
		wantETA = append(wantETA, fmt.Sprintf("%d.000000", at.Unix()))
		if i < 3 {
			if _, err := srv.WaitDispatched(waitCtx(t), i+1); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Second)
		}
	}
	want := []hdrs{
		{"0", "0", "", "", wantETA[0]},
		{"1", "0", "503", "HTTP 503 Service Unavailable", wantETA[1]},
		{"2", "1", "404", "HTTP 404 Not Found", wantETA[2]},
		{"3", "1", "500", "HTTP 500 Internal Server Error", wantETA[3]},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("service headers per attempt mismatch (-want +got):\n%s", diff)
	}
	if err := srv.WaitIdle(waitCtx(t), q); err != nil {
		t.Fatal(err)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name      string
		code      int
		header    string
		wantDelay time.Duration
	}{
		{"503 seconds", 503, "30", 30 * time.Second},
		{"429 seconds", 429, "20", 20 * time.Second},
		{"503 http date", 503, epoch.Add(45 * time.Second).Format(http.TimeFormat), 45 * time.Second},
		{"503 shorter than backoff", 503, "0", time.Second},
		{"500 ignores it", 500, "30", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, client, clock := newFakeServer(t)
			target := newTarget(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.header)
					w.WriteHeader(tt.code)
				}
			})
			mustCreateQueue(t, client, "ra", &cloudtaskspb.Queue{RetryConfig: fastRetry(5, time.Second, time.Hour, 16)})
			q := queueName("ra")
			mustCreateTask(t, client, q, httpTask(target.URL))
			if _, err := srv.WaitDispatched(waitCtx(t), 1); err != nil {
				t.Fatal(err)
			}
			got := srv.Tasks(q)[0].GetScheduleTime().AsTime().Sub(clock.Now())
			if got != tt.wantDelay {
				t.Errorf("retry delay = %v, want %v", got, tt.wantDelay)
			}
			clock.Advance(tt.wantDelay)
			if err := srv.WaitIdle(waitCtx(t), q); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDispatchDeadline(t *testing.T) {
	srv, client, clock := newFakeServer(t)
	target := newTarget(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			<-r.Context().Done() // a stuck handler: only the cancellation ends it
		}
	})
	mustCreateQueue(t, client, "dl", &cloudtaskspb.Queue{RetryConfig: fastRetry(5, time.Second, time.Second, 1)})
	q := queueName("dl")
	tk := httpTask(target.URL)
	tk.DispatchDeadline = durationpb.New(15 * time.Second)
	mustCreateTask(t, client, q, tk)
	first := target.next(t)
	clock.Advance(15*time.Second - time.Millisecond)
	if got := srv.InFlight(q); got != 1 {
		t.Errorf("InFlight before the deadline = %d, want 1", got)
	}
	clock.Advance(time.Millisecond)
	select {
	case <-first.ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the target's request was not cancelled at the dispatch deadline")
	}
	recs, err := srv.WaitDispatched(waitCtx(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	if recs[0].Err != "dispatch deadline exceeded" || recs[0].StatusCode != 0 {
		t.Errorf("record = status %d err %q, want the deadline failure", recs[0].StatusCode, recs[0].Err)
	}
	got := srv.Tasks(q)[0]
	if got.GetLastAttempt().GetResponseStatus().GetCode() != int32(codes.DeadlineExceeded) || got.GetResponseCount() != 0 {
		t.Errorf("task after deadline: last status %v response_count %d, want DEADLINE_EXCEEDED and 0",
			got.GetLastAttempt().GetResponseStatus(), got.GetResponseCount())
	}
	clock.Advance(time.Second)
	second := target.next(t)
	if got := second.header.Get("X-CloudTasks-TaskRetryReason"); got != "DEADLINE_EXCEEDED" {
		t.Errorf("retry reason after a deadline = %q, want DEADLINE_EXCEEDED", got)
	}
	if got := second.header.Get("X-CloudTasks-TaskPreviousResponse"); got != "" {
		t.Errorf("previous response after a deadline = %q, want none", got)
	}
	if err := srv.WaitIdle(waitCtx(t), q); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimitFakeClock(t *testing.T) {
	srv, client, clock := newFakeServer(t)
	target := newTarget(t, statusResponder())
	mustCreateQueue(t, client, "rate", &cloudtaskspb.Queue{RateLimits: &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: 2}})
	q := pausedQueue(t, srv, "rate")
	for range 6 {
		mustCreateTask(t, client, q, httpTask(target.URL))
	}
	if _, err := client.ResumeQueue(context.Background(), &cloudtaskspb.ResumeQueueRequest{Name: q}); err != nil {
		t.Fatal(err)
	}
	ctx := waitCtx(t)
	// A full bucket (burst 2) goes at once, then one token every 500ms.
	for _, want := range []int{2, 3, 4, 5, 6} {
		if _, err := srv.WaitDispatched(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got := len(srv.Dispatched()); got != want {
			t.Errorf("at %v: %d dispatched, want %d", clock.Now().Sub(epoch), got, want)
		}
		clock.Advance(500 * time.Millisecond)
	}
	if err := srv.WaitIdle(ctx, q); err != nil {
		t.Fatal(err)
	}
}

func TestMaxConcurrentDispatches(t *testing.T) {
	release := make(chan struct{})
	srv, client, _ := newFakeServer(t)
	target := newTarget(t, func(n int, w http.ResponseWriter, r *http.Request) { <-release })
	mustCreateQueue(t, client, "conc", &cloudtaskspb.Queue{RateLimits: &cloudtaskspb.RateLimits{MaxConcurrentDispatches: 3}})
	q := queueName("conc")
	for range 10 {
		mustCreateTask(t, client, q, httpTask(target.URL))
	}
	for range 3 {
		target.next(t)
	}
	if got := srv.InFlight(q); got != 3 {
		t.Errorf("InFlight = %d, want 3", got)
	}
	close(release)
	if err := srv.WaitIdle(waitCtx(t), q); err != nil {
		t.Fatal(err)
	}
	target.mu.Lock()
	defer target.mu.Unlock()
	if target.maxInflight != 3 || target.n != 10 {
		t.Errorf("target saw %d requests, at most %d at once; want 10, at most 3", target.n, target.maxInflight)
	}
}

// TestDispatchRate500 runs a burst at the maximum rate on the wall clock: 500
// go at once (the bucket), the next 500 over about a second. It asserts the
// token bucket's invariant, which holds however late the dispatcher runs on a
// loaded machine: by any time t after the queue resumed at most burst +
// rate*(t-resume) tasks have been dispatched. (A window count does not hold: a
// dispatcher delayed by a busy machine rightly finds its bucket refilled.)
func TestDispatchRate500(t *testing.T) {
	srv, client := newTestServer(t)
	target := newTarget(t, statusResponder())
	mustCreateQueue(t, client, "r500", nil)
	q := pausedQueue(t, srv, "r500")
	const n, perSecond, burst = 1000, 500, 500
	for i := range n {
		tk := httpTask(target.URL)
		tk.Name = q + "/tasks/t" + strconv.Itoa(i)
		mustCreateTask(t, client, q, tk)
	}
	// The bucket is full now; resume happens after start, so start bounds it from below.
	start := time.Now()
	if _, err := client.ResumeQueue(context.Background(), &cloudtaskspb.ResumeQueueRequest{Name: q}); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitIdle(waitCtx(t), q); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	// (n - burst) / rate = 1s is the least the bucket allows; a slow machine only adds to it.
	if elapsed < 950*time.Millisecond {
		t.Errorf("dispatching %d tasks at %d/s took %v, want at least 1s", n, perSecond, elapsed)
	}
	recs := srv.Dispatched()
	if len(recs) != n {
		t.Fatalf("dispatched %d, want %d", len(recs), n)
	}
	times := make([]time.Time, len(recs))
	for i, r := range recs {
		times[i] = r.DispatchTime
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	for i, at := range times {
		// One token of slack for the clock's truncation to microseconds.
		allowed := burst + 1 + int(float64(perSecond)*at.Sub(start).Seconds())
		if i+1 > allowed {
			t.Errorf("%d dispatches by %v after resume, the bucket allows at most %d", i+1, at.Sub(start), allowed)
			break
		}
	}
	t.Logf("%d tasks dispatched in %v (%.0f/s overall)", n, elapsed, float64(n)/elapsed.Seconds())
}
