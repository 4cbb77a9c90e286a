package tasksemulator

import (
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func pausedQueue(t *testing.T, srv *Server, id string) string {
	t.Helper()
	if _, err := srv.PauseQueue(context.Background(), &cloudtaskspb.PauseQueueRequest{Name: queueName(id)}); err != nil {
		t.Fatalf("PauseQueue(%s) error = %v", id, err)
	}
	return queueName(id)
}

func TestTaskCRUD(t *testing.T) {
	srv, client, _ := newFakeServer(t)
	mustCreateQueue(t, client, "crud", nil)
	q := pausedQueue(t, srv, "crud")
	ctx := context.Background()
	task := httpTask("http://127.0.0.1:1/work")
	task.GetHttpRequest().Body = []byte(`{"a":1}`)
	task.GetHttpRequest().Headers = map[string]string{"Content-Type": "application/json"}
	created := mustCreateTask(t, client, q, task)
	if !strings.HasPrefix(created.GetName(), q+"/tasks/") {
		t.Errorf("CreateTask() name = %q, want a generated name in %s", created.GetName(), q)
	}
	if created.GetView() != cloudtaskspb.Task_BASIC || created.GetHttpRequest().GetBody() != nil {
		t.Errorf("CreateTask() view = %v body = %q, want BASIC without body", created.GetView(), created.GetHttpRequest().GetBody())
	}
	if got, want := created.GetScheduleTime().AsTime(), epoch; !got.Equal(want) {
		t.Errorf("CreateTask() schedule_time = %v, want now %v", got, want)
	}
	if got, want := created.GetDispatchDeadline().AsDuration(), 10*time.Minute; got != want {
		t.Errorf("CreateTask() dispatch_deadline = %v, want %v", got, want)
	}
	if got := created.GetHttpRequest().GetHttpMethod(); got != cloudtaskspb.HttpMethod_POST {
		t.Errorf("CreateTask() http_method = %v, want POST", got)
	}
	full, err := client.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: created.GetName(), ResponseView: cloudtaskspb.Task_FULL})
	if err != nil {
		t.Fatalf("GetTask(FULL) error = %v", err)
	}
	if got := string(full.GetHttpRequest().GetBody()); got != `{"a":1}` {
		t.Errorf("GetTask(FULL) body = %q, want %q", got, `{"a":1}`)
	}
	named := httpTask("http://127.0.0.1:1/work")
	named.Name = q + "/tasks/named_1"
	mustCreateTask(t, client, q, named)
	it := client.ListTasks(ctx, &cloudtaskspb.ListTasksRequest{Parent: q, PageSize: 1})
	var names []string
	for {
		tk, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatalf("ListTasks().Next() error = %v", err)
		}
		names = append(names, tk.GetName())
	}
	want := []string{created.GetName(), named.Name}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("ListTasks() names mismatch (-want +got):\n%s", diff)
	}
	if err := client.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: created.GetName()}); err != nil {
		t.Fatalf("DeleteTask() error = %v", err)
	}
	for _, call := range []struct {
		name string
		err  error
	}{
		{"GetTask", func() error {
			_, err := client.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: created.GetName()})
			return err
		}()},
		{"DeleteTask", client.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: created.GetName()})},
	} {
		if status.Code(call.err) != codes.NotFound {
			t.Errorf("%s(deleted) code = %v, want NotFound", call.name, status.Code(call.err))
		}
	}
}

func TestCreateTaskValidation(t *testing.T) {
	srv, client, _ := newFakeServer(t)
	mustCreateQueue(t, client, "v", nil)
	q := pausedQueue(t, srv, "v")
	with := func(change func(*cloudtaskspb.Task)) *cloudtaskspb.Task {
		tk := httpTask("https://example.com/x")
		change(tk)
		return tk
	}
	tests := []struct {
		name   string
		parent string
		task   *cloudtaskspb.Task
		want   codes.Code
	}{
		{"ok", q, with(func(*cloudtaskspb.Task) {}), codes.OK},
		{"missing queue", queueName("nope"), with(func(*cloudtaskspb.Task) {}), codes.NotFound},
		{"app engine", q, &cloudtaskspb.Task{MessageType: &cloudtaskspb.Task_AppEngineHttpRequest{AppEngineHttpRequest: &cloudtaskspb.AppEngineHttpRequest{RelativeUri: "/x"}}}, codes.Unimplemented},
		{"too large", q, with(func(tk *cloudtaskspb.Task) { tk.GetHttpRequest().Body = make([]byte, 100*1024) }), codes.InvalidArgument},
		{"just under 100KB", q, with(func(tk *cloudtaskspb.Task) { tk.GetHttpRequest().Body = make([]byte, 100*1024-100) }), codes.OK},
		{"schedule 31 days ahead", q, with(func(tk *cloudtaskspb.Task) { tk.ScheduleTime = timestamppb.New(epoch.Add(31 * 24 * time.Hour)) }), codes.InvalidArgument},
		{"schedule 29 days ahead", q, with(func(tk *cloudtaskspb.Task) { tk.ScheduleTime = timestamppb.New(epoch.Add(29 * 24 * time.Hour)) }), codes.OK},
		{"bad task id", q, with(func(tk *cloudtaskspb.Task) { tk.Name = q + "/tasks/a.b" }), codes.InvalidArgument},
		{"task in another queue", q, with(func(tk *cloudtaskspb.Task) { tk.Name = queueName("other") + "/tasks/a" }), codes.InvalidArgument},
		{"relative url", q, with(func(tk *cloudtaskspb.Task) { tk.GetHttpRequest().Url = "/x" }), codes.InvalidArgument},
		{"body with GET", q, with(func(tk *cloudtaskspb.Task) {
			tk.GetHttpRequest().HttpMethod = cloudtaskspb.HttpMethod_GET
			tk.GetHttpRequest().Body = []byte("x")
		}), codes.InvalidArgument},
		{"deadline below 15s", q, with(func(tk *cloudtaskspb.Task) { tk.DispatchDeadline = durationpb.New(14 * time.Second) }), codes.InvalidArgument},
		{"deadline above 30m", q, with(func(tk *cloudtaskspb.Task) { tk.DispatchDeadline = durationpb.New(31 * time.Minute) }), codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.CreateTask(context.Background(), &cloudtaskspb.CreateTaskRequest{Parent: tt.parent, Task: tt.task})
			if got := status.Code(err); got != tt.want {
				t.Errorf("CreateTask() code = %v, want %v (err %v)", got, tt.want, err)
			}
		})
	}
}

func TestNamedTaskDedup(t *testing.T) {
	srv, client, clock := newFakeServer(t, WithTombstoneTTL(time.Hour))
	target := newTarget(t, statusResponder())
	mustCreateQueue(t, client, "dedup", nil)
	q := queueName("dedup")
	ctx := context.Background()
	create := func(id string) error {
		tk := httpTask(target.URL)
		tk.Name = q + "/tasks/" + id
		_, err := client.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: q, Task: tk})
		return err
	}
	pausedQueue(t, srv, "dedup")
	if err := create("deleted"); err != nil {
		t.Fatalf("CreateTask(deleted) error = %v", err)
	}
	if err := create("deleted"); status.Code(err) != codes.AlreadyExists {
		t.Errorf("CreateTask(live duplicate) code = %v, want AlreadyExists", status.Code(err))
	}
	if err := client.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: q + "/tasks/deleted"}); err != nil {
		t.Fatalf("DeleteTask() error = %v", err)
	}
	// An executed task tombstones its name too.
	if err := create("executed"); err != nil {
		t.Fatalf("CreateTask(executed) error = %v", err)
	}
	if _, err := client.ResumeQueue(ctx, &cloudtaskspb.ResumeQueueRequest{Name: q}); err != nil {
		t.Fatalf("ResumeQueue() error = %v", err)
	}
	if err := srv.WaitIdle(waitCtx(t), q); err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Minute)
	for _, id := range []string{"deleted", "executed"} {
		if err := create(id); status.Code(err) != codes.AlreadyExists {
			t.Errorf("CreateTask(%s) within the tombstone TTL code = %v, want AlreadyExists", id, status.Code(err))
		}
	}
	pausedQueue(t, srv, "dedup")
	clock.Advance(time.Minute)
	for _, id := range []string{"deleted", "executed"} {
		if err := create(id); err != nil {
			t.Errorf("CreateTask(%s) after the tombstone TTL error = %v, want success", id, err)
		}
	}
}

func TestFaultInjection(t *testing.T) {
	srv, client, _ := newFakeServer(t)
	mustCreateQueue(t, client, "f", nil)
	q := pausedQueue(t, srv, "f")
	srv.SetFault("CreateTask", status.Error(codes.ResourceExhausted, "quota"), 3)
	var got []codes.Code
	for range 5 {
		_, err := client.CreateTask(context.Background(), &cloudtaskspb.CreateTaskRequest{Parent: q, Task: httpTask("http://127.0.0.1:1/")})
		got = append(got, status.Code(err))
	}
	want := []codes.Code{codes.ResourceExhausted, codes.ResourceExhausted, codes.ResourceExhausted, codes.OK, codes.OK}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateTask() codes with 3 injected faults mismatch (-want +got):\n%s", diff)
	}
	srv.SetFault("/google.cloud.tasks.v2.CloudTasks/GetQueue", status.Error(codes.PermissionDenied, "no"), -1)
	for range 2 {
		if _, err := client.GetQueue(context.Background(), &cloudtaskspb.GetQueueRequest{Name: q}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("GetQueue() with a standing fault code = %v, want PermissionDenied", status.Code(err))
		}
	}
	srv.SetFault("GetQueue", nil, 0)
	if _, err := client.GetQueue(context.Background(), &cloudtaskspb.GetQueueRequest{Name: q}); err != nil {
		t.Errorf("GetQueue() after clearing the fault error = %v", err)
	}
}
