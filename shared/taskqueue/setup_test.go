package taskqueue

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
)

const testLocation = "projects/test-project/locations/us-central1"

const testQueue = testLocation + "/queues/q"

// env is an emulator, an official client pointed at it through EmulatorOptions, and a paused
// queue, so the tasks created stay there to be inspected.
type env struct {
	srv    *tasksemulator.Server
	client *cloudtasks.Client
	calls  *callCounter
}

// callCounter watches the client's CreateTask calls: how many, how many at once, and, when
// set, a hook run around each (before returns whether to make the call).
type callCounter struct {
	mu       sync.Mutex
	calls    int
	inFlight int
	maxSeen  int
	around   func(ctx context.Context, call int, invoke func() error) error
}

func (c *callCounter) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if method != "/google.cloud.tasks.v2.CloudTasks/CreateTask" {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	c.mu.Lock()
	c.calls++
	call := c.calls
	c.inFlight++
	c.maxSeen = max(c.maxSeen, c.inFlight)
	around := c.around
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	invoke := func() error { return invoker(ctx, method, req, reply, cc, opts...) }
	if around != nil {
		return around(ctx, call, invoke)
	}
	return invoke()
}

func (c *callCounter) stats() (calls, maxSeen int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.maxSeen
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv, err := tasksemulator.NewServer(tasksemulator.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("tasksemulator.NewServer() = %v", err)
	}
	calls := &callCounter{}
	opts := append(EmulatorOptions(srv.Addr()), option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(calls.intercept)))
	client, err := cloudtasks.NewClient(context.Background(), opts...)
	if err != nil {
		srv.Close()
		t.Fatalf("cloudtasks.NewClient() = %v", err)
	}
	t.Cleanup(func() {
		client.Close()
		srv.Close()
	})
	ctx := context.Background()
	if _, err := client.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: testLocation, Queue: &cloudtaskspb.Queue{Name: testQueue}}); err != nil {
		t.Fatalf("CreateQueue() = %v", err)
	}
	if _, err := client.PauseQueue(ctx, &cloudtaskspb.PauseQueueRequest{Name: testQueue}); err != nil {
		t.Fatalf("PauseQueue() = %v", err)
	}
	return &env{srv: srv, client: client, calls: calls}
}

// enqueuer returns an Enqueuer on the env's queue with millisecond backoffs.
func (e *env) enqueuer(opts ...Option) *Enqueuer {
	return New(e.client, testQueue, append([]Option{WithBackoff(time.Millisecond, 5*time.Millisecond), WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
}
