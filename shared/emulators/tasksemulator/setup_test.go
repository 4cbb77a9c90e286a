package tasksemulator

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/protobuf/types/known/durationpb"
)

const testLocation = "projects/test-project/locations/us-central1"

// epoch is where fake clocks start; microsecond-aligned like stored times.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestServer starts a server and an official client pointed at it.
func newTestServer(t testing.TB, opts ...Option) (*Server, *cloudtasks.Client) {
	t.Helper()
	srv, err := NewServer(append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatalf("NewServer() error = %v", err)
	}
	client, err := cloudtasks.NewClient(context.Background(), ClientOptions(srv.Addr())...)
	if err != nil {
		srv.Close()
		t.Fatalf("cloudtasks.NewClient() error = %v", err)
	}
	t.Cleanup(func() {
		client.Close()
		srv.Close()
	})
	return srv, client
}

// newFakeServer is newTestServer with a FakeClock at epoch.
func newFakeServer(t testing.TB, opts ...Option) (*Server, *cloudtasks.Client, *FakeClock) {
	t.Helper()
	clock := NewFakeClock(epoch)
	srv, client := newTestServer(t, append([]Option{WithClock(clock)}, opts...)...)
	return srv, client, clock
}

// waitCtx bounds every wait in a test.
func waitCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func queueName(id string) string { return testLocation + "/queues/" + id }

// mustCreateQueue creates a queue; q may be nil for defaults.
func mustCreateQueue(t testing.TB, client *cloudtasks.Client, id string, q *cloudtaskspb.Queue) *cloudtaskspb.Queue {
	t.Helper()
	if q == nil {
		q = &cloudtaskspb.Queue{}
	}
	q.Name = queueName(id)
	got, err := client.CreateQueue(context.Background(), &cloudtaskspb.CreateQueueRequest{Parent: testLocation, Queue: q})
	if err != nil {
		t.Fatalf("CreateQueue(%s) error = %v", id, err)
	}
	return got
}

// fastRetry is a retry config with whole-second backoffs that tests can step through.
func fastRetry(maxAttempts int32, minB, maxB time.Duration, doublings int32) *cloudtaskspb.RetryConfig {
	return &cloudtaskspb.RetryConfig{
		MaxAttempts: maxAttempts, MinBackoff: durationpb.New(minB), MaxBackoff: durationpb.New(maxB), MaxDoublings: doublings,
	}
}

func mustCreateTask(t testing.TB, client *cloudtasks.Client, queue string, task *cloudtaskspb.Task) *cloudtaskspb.Task {
	t.Helper()
	got, err := client.CreateTask(context.Background(), &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: task})
	if err != nil {
		t.Fatalf("CreateTask() error = %v", err)
	}
	return got
}

func httpTask(url string) *cloudtaskspb.Task {
	return &cloudtaskspb.Task{MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: &cloudtaskspb.HttpRequest{Url: url}}}
}

// target is an HTTP task handler that records what it receives and answers
// each request with respond (by arrival order, from 1).
type target struct {
	*httptest.Server
	respond func(n int, w http.ResponseWriter, r *http.Request)

	mu          sync.Mutex
	n           int
	inflight    int
	maxInflight int
	arrived     chan arrival
}

type arrival struct {
	n      int
	header http.Header
	body   string
	ctx    context.Context
}

func newTarget(t testing.TB, respond func(n int, w http.ResponseWriter, r *http.Request)) *target {
	tg := &target{respond: respond, arrived: make(chan arrival, 4096)}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.n++
		n := tg.n
		tg.inflight++
		tg.maxInflight = max(tg.maxInflight, tg.inflight)
		tg.mu.Unlock()
		tg.arrived <- arrival{n: n, header: r.Header.Clone(), body: string(body), ctx: r.Context()}
		if tg.respond != nil {
			tg.respond(n, w, r)
		}
		tg.mu.Lock()
		tg.inflight--
		tg.mu.Unlock()
	}))
	t.Cleanup(tg.Close)
	return tg
}

// next waits for the next request to arrive at the target.
func (tg *target) next(t testing.TB) arrival {
	t.Helper()
	select {
	case a := <-tg.arrived:
		return a
	case <-time.After(10 * time.Second):
		t.Fatalf("no request reached the target within 10s")
		return arrival{}
	}
}

func statusResponder(codes ...int) func(n int, w http.ResponseWriter, r *http.Request) {
	return func(n int, w http.ResponseWriter, r *http.Request) {
		code := http.StatusOK
		if n <= len(codes) {
			code = codes[n-1]
		}
		w.WriteHeader(code)
		fmt.Fprint(w, http.StatusText(code))
	}
}
