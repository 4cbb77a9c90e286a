package taskqueue

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func tasksN(prefix string, n int) []Task {
	out := make([]Task, n)
	for i := range out {
		out[i] = Task{Name: fmt.Sprintf("%s/%d", prefix, i), URL: "https://worker.example.com/run", Body: []byte(fmt.Sprintf(`{"index":%d}`, i))}
	}
	return out
}

// names returns the names of the tasks in the emulator's queue, sorted.
func (e *env) names() []string {
	var out []string
	for _, t := range e.srv.Tasks(testQueue) {
		out = append(out, t.GetName())
	}
	return out
}

func TestClientOptions(t *testing.T) {
	t.Setenv(EnvEmulatorHost, "")
	if got := ClientOptions(); got != nil {
		t.Errorf("ClientOptions() with %s unset = %v, want nil", EnvEmulatorHost, got)
	}
	t.Setenv(EnvEmulatorHost, "127.0.0.1:8123")
	if got := len(ClientOptions()); got != 3 {
		t.Errorf("len(ClientOptions()) with %s set = %d, want 3", EnvEmulatorHost, got)
	}
}

func TestTaskNamesAreHashedAndStable(t *testing.T) {
	e := newEnv(t)
	enq := e.enqueuer()
	tests := []struct{ name string }{{"bf-1/w/0/0"}, {"bf-1/w/0/1"}, {"bf-1/x/0-50"}, {"anything: even / and spaces"}}
	idPattern := regexp.MustCompile(`^[0-9a-f]{32}$`)
	var want []string
	for _, tt := range tests {
		got := enq.TaskName(tt.name)
		sum := sha256.Sum256([]byte(tt.name))
		wantName := testQueue + "/tasks/" + fmt.Sprintf("%x", sum)[:32]
		if got != wantName {
			t.Errorf("TaskName(%q) = %q, want %q", tt.name, got, wantName)
		}
		if id := strings.TrimPrefix(got, testQueue+"/tasks/"); !idPattern.MatchString(id) {
			t.Errorf("TaskName(%q) id = %q, want 32 hex digits", tt.name, id)
		}
		if again := e.enqueuer().TaskName(tt.name); again != got {
			t.Errorf("TaskName(%q) = %q then %q, want stable", tt.name, got, again)
		}
		want = append(want, wantName)
	}
	// Consecutive ids must not share a prefix the way their inputs do.
	if a, b := enq.TaskName("bf-1/w/0/0"), enq.TaskName("bf-1/w/0/1"); a[:len(a)-28] == b[:len(b)-28] {
		t.Errorf("TaskName of consecutive ids share the first 4 hex digits: %s, %s", a, b)
	}
	var tasks []Task
	for _, tt := range tests {
		tasks = append(tasks, Task{Name: tt.name, URL: "https://worker.example.com/run"})
	}
	if _, err := enq.Enqueue(t.Context(), tasks); err != nil {
		t.Fatalf("Enqueue() = %v", err)
	}
	wantSorted := append([]string(nil), want...)
	slices.Sort(wantSorted)
	if diff := cmp.Diff(wantSorted, e.names()); diff != "" {
		t.Errorf("task names in the queue mismatch (-want +got):\n%s", diff)
	}
}

func TestEnqueueCreatesTheRequests(t *testing.T) {
	e := newEnv(t)
	at := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	tasks := []Task{
		{Name: "a", URL: "https://worker.example.com/run", Body: []byte(`{"a":1}`), Headers: map[string]string{"Content-Type": "application/json"},
			OIDCServiceAccount: "tasks@p.iam.gserviceaccount.com", OIDCAudience: "https://worker.example.com"},
		{Name: "b", URL: "https://other.example.com/x", ScheduleTime: at},
	}
	res, err := e.enqueuer().Enqueue(t.Context(), tasks)
	if err != nil {
		t.Fatalf("Enqueue() = %v", err)
	}
	if diff := cmp.Diff(Result{Created: 2}, res); diff != "" {
		t.Errorf("Enqueue() result mismatch (-want +got):\n%s", diff)
	}
	type view struct {
		URL, Body, OIDCEmail, OIDCAudience string
		Headers                            map[string]string
		Scheduled                          bool
	}
	got := map[string]view{}
	for _, pb := range e.srv.Tasks(testQueue) {
		hr := pb.GetHttpRequest()
		got[pb.GetName()] = view{URL: hr.GetUrl(), Body: string(hr.GetBody()), OIDCEmail: hr.GetOidcToken().GetServiceAccountEmail(),
			OIDCAudience: hr.GetOidcToken().GetAudience(), Headers: hr.GetHeaders(), Scheduled: pb.GetScheduleTime().AsTime().Equal(at)}
		if hr.GetHttpMethod() != cloudtaskspb.HttpMethod_POST {
			t.Errorf("task %s method = %v, want POST", pb.GetName(), hr.GetHttpMethod())
		}
	}
	enq := e.enqueuer()
	want := map[string]view{
		enq.TaskName("a"): {URL: "https://worker.example.com/run", Body: `{"a":1}`, OIDCEmail: "tasks@p.iam.gserviceaccount.com",
			OIDCAudience: "https://worker.example.com", Headers: map[string]string{"Content-Type": "application/json"}},
		enq.TaskName("b"): {URL: "https://other.example.com/x", Scheduled: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tasks in the queue mismatch (-want +got):\n%s", diff)
	}
}

func TestEnqueueCountsAlreadyExistsAsSuccess(t *testing.T) {
	e := newEnv(t)
	enq := e.enqueuer()
	all := tasksN("job", 5)
	tests := []struct {
		name  string
		tasks []Task
		want  Result
	}{
		{"first time", all[:3], Result{Created: 3}},
		{"the same again", all[:3], Result{AlreadyExisted: 3}},
		{"old and new", all, Result{Created: 2, AlreadyExisted: 3}},
	}
	for _, tt := range tests {
		res, err := enq.Enqueue(t.Context(), tt.tasks)
		if err != nil {
			t.Errorf("%s: Enqueue() error = %v", tt.name, err)
		}
		if diff := cmp.Diff(tt.want, res); diff != "" {
			t.Errorf("%s: Enqueue() mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	if got := len(e.names()); got != 5 {
		t.Errorf("queue holds %d tasks, want 5", got)
	}
}

func TestEnqueueBacksOff(t *testing.T) {
	tests := []struct {
		name      string
		code      codes.Code
		faults    int
		attempts  int
		want      Result
		wantCalls int
		wantErr   string
	}{
		{"resource exhausted 3 times", codes.ResourceExhausted, 3, 8, Result{Created: 1}, 4, ""},
		{"unavailable twice", codes.Unavailable, 2, 8, Result{Created: 1}, 3, ""},
		{"deadline exceeded once", codes.DeadlineExceeded, 1, 8, Result{Created: 1}, 2, ""},
		{"attempts run out", codes.ResourceExhausted, 10, 3, Result{}, 3, "giving up after 3 attempts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.srv.SetFault("CreateTask", status.Error(tt.code, "injected"), tt.faults)
			res, err := e.enqueuer(WithMaxAttempts(tt.attempts)).Enqueue(t.Context(), tasksN("t", 1))
			if tt.wantErr == "" && err != nil {
				t.Errorf("Enqueue() error = %v, want nil", err)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || status.Code(err) != tt.code {
					t.Errorf("Enqueue() error = %v, want one saying %q", err, tt.wantErr)
				}
				if len(res.Failed) != 1 || status.Code(res.Failed[0].Err) != tt.code {
					t.Errorf("Enqueue().Failed = %v, want one task failed with %v", res.Failed, tt.code)
				}
				res.Failed = nil
			}
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("Enqueue() mismatch (-want +got):\n%s", diff)
			}
			if calls, _ := e.calls.stats(); calls != tt.wantCalls {
				t.Errorf("CreateTask called %d times, want %d", calls, tt.wantCalls)
			}
		})
	}
}

// A call that created the task but timed out on the way back is retried; the retry's
// ALREADY_EXISTS is that call's task, so it counts as created.
func TestEnqueueCountsATimedOutCreateAsCreated(t *testing.T) {
	e := newEnv(t)
	e.calls.around = func(_ context.Context, call int, invoke func() error) error {
		err := invoke()
		if call == 1 && err == nil {
			return status.Error(codes.DeadlineExceeded, "the answer was lost")
		}
		return err
	}
	res, err := e.enqueuer().Enqueue(t.Context(), tasksN("t", 1))
	if err != nil {
		t.Fatalf("Enqueue() = %v", err)
	}
	if diff := cmp.Diff(Result{Created: 1}, res); diff != "" {
		t.Errorf("Enqueue() mismatch (-want +got):\n%s", diff)
	}
}

func TestEnqueueBadRequestFailsNamingTheTask(t *testing.T) {
	e := newEnv(t)
	tasks := tasksN("job", 4)
	tasks[2].URL = "ftp://worker.example.com/run"
	res, err := e.enqueuer().Enqueue(t.Context(), tasks)
	if err == nil || !strings.Contains(err.Error(), `"job/2"`) || !strings.Contains(err.Error(), "http_request.url") {
		t.Errorf("Enqueue() error = %v, want one naming task job/2 and its url", err)
	}
	if len(res.Failed) != 1 || res.Failed[0].Name != "job/2" || status.Code(res.Failed[0].Err) != codes.InvalidArgument {
		t.Errorf("Enqueue().Failed = %v, want job/2 with InvalidArgument", res.Failed)
	}
	if res.Created != 3 {
		t.Errorf("Enqueue().Created = %d, want 3", res.Created)
	}
	// A request error is not retried.
	if calls, _ := e.calls.stats(); calls != 4 {
		t.Errorf("CreateTask called %d times, want 4", calls)
	}
}

// The first n calls wait for each other, so the test fails (by timeout) if fewer than n run at
// once; more than n at once shows in the maximum seen.
func TestEnqueueParallelismBound(t *testing.T) {
	for _, n := range []int{1, 4, 16} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			e := newEnv(t)
			arrived := make(chan struct{}, n)
			all := make(chan struct{})
			e.calls.around = func(ctx context.Context, call int, invoke func() error) error {
				if call <= n {
					arrived <- struct{}{}
					if call == n {
						close(all)
					}
					select {
					case <-all:
					case <-time.After(10 * time.Second):
						return status.Error(codes.Internal, "the first calls never ran together")
					}
				}
				return invoke()
			}
			res, err := e.enqueuer(WithParallelism(n)).Enqueue(t.Context(), tasksN("p", 10*n))
			if err != nil {
				t.Fatalf("Enqueue() = %v", err)
			}
			if res.Created != 10*n {
				t.Errorf("Enqueue().Created = %d, want %d", res.Created, 10*n)
			}
			if _, maxSeen := e.calls.stats(); maxSeen != n {
				t.Errorf("at most %d CreateTask calls ran at once, want %d", maxSeen, n)
			}
		})
	}
}

// A backoff ends with the context: the hour-long wait here would otherwise time the test out.
func TestEnqueueStopsWhenTheContextEnds(t *testing.T) {
	e := newEnv(t)
	e.srv.SetFault("CreateTask", status.Error(codes.Unavailable, "down"), -1)
	ctx, cancel := context.WithCancel(t.Context())
	e.calls.around = func(_ context.Context, call int, invoke func() error) error {
		err := invoke()
		cancel()
		return err
	}
	res, err := New(e.client, testQueue, WithBackoff(time.Hour, time.Hour)).Enqueue(ctx, tasksN("c", 2))
	if err == nil || len(res.Failed) != 2 {
		t.Fatalf("Enqueue() = %+v, %v; want both tasks failed", res, err)
	}
	for _, f := range res.Failed {
		if !errors.Is(f, context.Canceled) && status.Code(f.Err) != codes.Canceled {
			t.Errorf("task %s failed with %v, want context canceled", f.Name, f.Err)
		}
	}
}

// BenchmarkEnqueue creates 10,000 tasks per iteration in a paused queue of the emulator, at the
// default parallelism.
func BenchmarkEnqueue(b *testing.B) {
	e := newEnv(b)
	enq := e.enqueuer()
	const n = 10_000
	b.ResetTimer()
	for i := range b.N {
		res, err := enq.Enqueue(context.Background(), tasksN(fmt.Sprintf("bench-%d", i), n))
		if err != nil || res.Created != n {
			b.Fatalf("Enqueue() = %+v, %v; want %d created", res.Created, err, n)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "tasks/s")
}

// TestEnqueueRate paces the creates of two concurrent Enqueue calls together. Bounds that hold
// on a loaded machine: by any time t after the start, at most burst + rate*t calls began (a slow
// machine only makes fewer), and the whole took at least (n - burst) / rate.
func TestEnqueueRate(t *testing.T) {
	const perSecond, each = 200, 300 // burst: one second's worth, 200
	e := newEnv(t)
	var mu sync.Mutex
	var began []time.Time
	e.calls.around = func(_ context.Context, _ int, invoke func() error) error {
		mu.Lock()
		began = append(began, time.Now())
		mu.Unlock()
		return invoke()
	}
	enq := e.enqueuer(WithParallelism(64), WithRate(perSecond))
	start := time.Now()
	var wg sync.WaitGroup
	for _, prefix := range []string{"a", "b"} {
		wg.Go(func() {
			if res, err := enq.Enqueue(t.Context(), tasksN(prefix, each)); err != nil || res.Created != each {
				t.Errorf("Enqueue(%s) = %+v, %v; want %d created", prefix, res, err, each)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if want := time.Duration(float64(2*each-perSecond) / perSecond * float64(time.Second)); elapsed < want {
		t.Errorf("%d creates at %d/s took %v, want at least %v", 2*each, perSecond, elapsed, want)
	}
	slices.SortFunc(began, func(a, b time.Time) int { return a.Compare(b) })
	for i, at := range began {
		if allowed := perSecond + 1 + int(perSecond*at.Sub(start).Seconds()); i+1 > allowed {
			t.Fatalf("%d CreateTask calls had begun %v after the start, want at most %d at %d/s", i+1, at.Sub(start), allowed, perSecond)
		}
	}
}

// WithRate(0) is no limit, and a later option overrides an earlier one.
func TestWithRate(t *testing.T) {
	for _, tc := range []struct {
		opts  []Option
		limit float64 // 0: no limiter
	}{
		{nil, 0},
		{[]Option{WithRate(0)}, 0},
		{[]Option{WithRate(-1)}, 0},
		{[]Option{WithRate(2000)}, 2000},
		{[]Option{WithRate(10), WithRate(0)}, 0},
	} {
		e := New(nil, testQueue, tc.opts...)
		got := 0.0
		if e.limiter != nil {
			got = float64(e.limiter.Limit())
		}
		if got != tc.limit {
			t.Errorf("New(%d options) paces at %v/s, want %v (0: unlimited)", len(tc.opts), got, tc.limit)
		}
	}
}
