package iamcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
)

const (
	location   = "projects/" + project + "/locations/us-central1"
	queue      = location + "/queues/backfill"
	otherQueue = location + "/queues/other"
	existing   = queue + "/tasks/seeded"
	invoker    = "tasks-invoker@" + project + ".iam.gserviceaccount.com"
)

// tasksEnv is a Cloud Tasks server holding two paused queues and one task, and an admin client
// talking to it directly.
func tasksEnv(t *testing.T) *tasksemulator.Server {
	t.Helper()
	srv, err := tasksemulator.NewServer(tasksemulator.WithLogger(discard))
	if err != nil {
		t.Fatalf("tasksemulator.NewServer() = %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	admin := tasksClient(t, srv.Addr())
	ctx := t.Context()
	for _, q := range []string{queue, otherQueue} {
		if _, err := admin.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: location, Queue: &cloudtaskspb.Queue{Name: q}}); err != nil {
			t.Fatalf("CreateQueue(%s) = %v", q, err)
		}
		if _, err := admin.PauseQueue(ctx, &cloudtaskspb.PauseQueueRequest{Name: q}); err != nil {
			t.Fatalf("PauseQueue(%s) = %v", q, err)
		}
	}
	for _, name := range []string{existing, otherQueue + "/tasks/seeded"} {
		if _, err := admin.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: name[:strings.Index(name, "/tasks/")], Task: httpTask(name, "")}); err != nil {
			t.Fatalf("CreateTask(%s) = %v", name, err)
		}
	}
	return srv
}

// tasksClient is the official client as the project builds it (taskqueue.EmulatorOptions).
func tasksClient(t *testing.T, host string) *cloudtasks.Client {
	t.Helper()
	c, err := cloudtasks.NewClient(context.Background(), tasksemulator.ClientOptions(host)...)
	if err != nil {
		t.Fatalf("cloudtasks.NewClient() = %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func httpTask(name, oidcAccount string) *cloudtaskspb.Task {
	h := &cloudtaskspb.HttpRequest{Url: "http://127.0.0.1:1/run", HttpMethod: cloudtaskspb.HttpMethod_POST}
	if oidcAccount != "" {
		h.AuthorizationHeader = &cloudtaskspb.HttpRequest_OidcToken{OidcToken: &cloudtaskspb.OidcToken{ServiceAccountEmail: oidcAccount}}
	}
	return &cloudtaskspb.Task{Name: name, MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: h}}
}

func tasksDenied(perm, resource string) string {
	return `The principal (user or service account) lacks IAM permission "` + perm + `" for the resource "` + resource + `" (or the resource may not exist).`
}

func TestCloudTasks(t *testing.T) {
	bind := func(role, resource string) []Binding {
		return []Binding{{Member: member, Role: role, Resource: resource}}
	}
	var (
		createTask = func(ctx context.Context, c *cloudtasks.Client) error {
			_, err := c.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask(queue+"/tasks/new", "")})
			return err
		}
		createOIDCTask = func(ctx context.Context, c *cloudtasks.Client) error {
			_, err := c.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask(queue+"/tasks/oidc", invoker)})
			return err
		}
		getTask = func(ctx context.Context, c *cloudtasks.Client) error {
			_, err := c.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: existing})
			return err
		}
		listTasks = func(ctx context.Context, c *cloudtasks.Client) error {
			_, err := c.ListTasks(ctx, &cloudtaskspb.ListTasksRequest{Parent: queue}).Next()
			return err
		}
		deleteTask = func(ctx context.Context, c *cloudtasks.Client) error {
			return c.DeleteTask(ctx, &cloudtaskspb.DeleteTaskRequest{Name: existing})
		}
		getQueue = func(ctx context.Context, c *cloudtasks.Client) error {
			_, err := c.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: queue})
			return err
		}
		createQueue = func(ctx context.Context, c *cloudtasks.Client) error {
			_, err := c.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: location, Queue: &cloudtaskspb.Queue{Name: location + "/queues/made"}})
			return err
		}
		pauseQueue = func(ctx context.Context, c *cloudtasks.Client) error {
			_, err := c.PauseQueue(ctx, &cloudtaskspb.PauseQueueRequest{Name: queue})
			return err
		}
	)
	actAs := Binding{Member: member, Role: "roles/iam.serviceAccountUser", Resource: ServiceAccountName(invoker)}
	tests := []struct {
		name     string
		bindings []Binding
		call     func(context.Context, *cloudtasks.Client) error
		wantMsg  string // empty: allowed
	}{
		{"CreateTask enqueuer on the queue", bind("roles/cloudtasks.enqueuer", queue), createTask, ""},
		{"CreateTask enqueuer on the project", bind("roles/cloudtasks.enqueuer", "projects/"+project), createTask, ""},
		{"CreateTask enqueuer on another queue", bind("roles/cloudtasks.enqueuer", otherQueue), createTask, tasksDenied("cloudtasks.tasks.create", queue)},
		{"CreateTask no role", nil, createTask, tasksDenied("cloudtasks.tasks.create", queue)},
		{"CreateTask viewer lacks create", bind("roles/cloudtasks.viewer", queue), createTask, tasksDenied("cloudtasks.tasks.create", queue)},
		{"CreateTask with OIDC token and actAs", append(bind("roles/cloudtasks.enqueuer", queue), actAs), createOIDCTask, ""},
		{"CreateTask with OIDC token without actAs", bind("roles/cloudtasks.enqueuer", queue), createOIDCTask, tasksDenied("iam.serviceAccounts.actAs", invoker)},
		{"CreateTask with OIDC token, actAs on another account",
			append(bind("roles/cloudtasks.enqueuer", queue), Binding{Member: member, Role: "roles/iam.serviceAccountUser", Resource: ServiceAccountName("other@" + project + ".iam.gserviceaccount.com")}),
			createOIDCTask, tasksDenied("iam.serviceAccounts.actAs", invoker)},
		// The sweep's bug: it calls GetTask holding only roles/cloudtasks.enqueuer.
		{"GetTask enqueuer lacks get", bind("roles/cloudtasks.enqueuer", queue), getTask, tasksDenied("cloudtasks.tasks.get", existing)},
		{"GetTask viewer on the queue", bind("roles/cloudtasks.viewer", queue), getTask, ""},
		{"GetTask viewer on another queue", bind("roles/cloudtasks.viewer", otherQueue), getTask, tasksDenied("cloudtasks.tasks.get", existing)},
		{"GetTask no role", nil, getTask, tasksDenied("cloudtasks.tasks.get", existing)},
		{"ListTasks viewer", bind("roles/cloudtasks.viewer", queue), listTasks, ""},
		{"ListTasks enqueuer lacks list", bind("roles/cloudtasks.enqueuer", queue), listTasks, tasksDenied("cloudtasks.tasks.list", queue)},
		{"ListTasks viewer on another queue", bind("roles/cloudtasks.viewer", otherQueue), listTasks, tasksDenied("cloudtasks.tasks.list", queue)},
		{"DeleteTask taskDeleter", bind("roles/cloudtasks.taskDeleter", queue), deleteTask, ""},
		{"DeleteTask taskDeleter on another queue", bind("roles/cloudtasks.taskDeleter", otherQueue), deleteTask, tasksDenied("cloudtasks.tasks.delete", existing)},
		{"DeleteTask taskRunner lacks delete", bind("roles/cloudtasks.taskRunner", queue), deleteTask, tasksDenied("cloudtasks.tasks.delete", existing)},
		{"DeleteTask no role", nil, deleteTask, tasksDenied("cloudtasks.tasks.delete", existing)},
		{"GetQueue viewer", bind("roles/cloudtasks.viewer", queue), getQueue, ""},
		{"GetQueue enqueuer lacks get", bind("roles/cloudtasks.enqueuer", queue), getQueue, tasksDenied("cloudtasks.queues.get", queue)},
		{"GetQueue viewer on another queue", bind("roles/cloudtasks.viewer", otherQueue), getQueue, tasksDenied("cloudtasks.queues.get", queue)},
		{"GetQueue no role", nil, getQueue, tasksDenied("cloudtasks.queues.get", queue)},
		{"CreateQueue queueAdmin on the project", bind("roles/cloudtasks.queueAdmin", "projects/"+project), createQueue, ""},
		{"CreateQueue queueAdmin on another project", bind("roles/cloudtasks.queueAdmin", "projects/elsewhere"), createQueue, tasksDenied("cloudtasks.queues.create", location+"/queues/made")},
		{"CreateQueue viewer lacks create", bind("roles/cloudtasks.viewer", "projects/"+project), createQueue, tasksDenied("cloudtasks.queues.create", location+"/queues/made")},
		{"CreateQueue no role", nil, createQueue, tasksDenied("cloudtasks.queues.create", location+"/queues/made")},
		{"PauseQueue queueAdmin", bind("roles/cloudtasks.queueAdmin", queue), pauseQueue, ""},
		{"PauseQueue enqueuer lacks pause", bind("roles/cloudtasks.enqueuer", queue), pauseQueue, tasksDenied("cloudtasks.queues.pause", queue)},
		{"PauseQueue queueAdmin on another queue", bind("roles/cloudtasks.queueAdmin", otherQueue), pauseQueue, tasksDenied("cloudtasks.queues.pause", queue)},
		{"PauseQueue no role", nil, pauseQueue, tasksDenied("cloudtasks.queues.pause", queue)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tasksEnv(t)
			proxy := startProxy(t, tt.bindings, map[string]string{CloudTasks: srv.Addr()})
			err := tt.call(t.Context(), tasksClient(t, proxy.Addr()))
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("call = %v, want it allowed", err)
				}
				return
			}
			if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != tt.wantMsg {
				t.Errorf("call = %v, want PermissionDenied %q", err, tt.wantMsg)
			}
		})
	}
}

// TestRefusedCallNeverReachesTheUpstream checks a refused CreateTask creates nothing, and that
// Decisions records what was asked.
func TestRefusedCallNeverReachesTheUpstream(t *testing.T) {
	srv := tasksEnv(t)
	var logs bytes.Buffer
	proxy := startProxy(t, []Binding{{Member: member, Role: "roles/cloudtasks.enqueuer", Resource: queue}}, map[string]string{CloudTasks: srv.Addr()},
		func(c *Config) { c.Log = slog.New(slog.NewJSONHandler(&logs, nil)) })
	c := tasksClient(t, proxy.Addr())
	ctx := t.Context()
	if _, err := c.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask(queue+"/tasks/oidc", invoker)}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("CreateTask(OIDC, no actAs) = %v, want PermissionDenied", err)
	}
	if _, err := c.CreateTask(ctx, &cloudtaskspb.CreateTaskRequest{Parent: queue, Task: httpTask(queue+"/tasks/plain", "")}); err != nil {
		t.Fatalf("CreateTask(plain) = %v", err)
	}
	admin := tasksClient(t, srv.Addr())
	if _, err := admin.GetTask(ctx, &cloudtaskspb.GetTaskRequest{Name: queue + "/tasks/oidc"}); status.Code(err) != codes.NotFound {
		t.Errorf("GetTask(refused task) on the upstream = %v, want NotFound", err)
	}
	want := []Decision{
		{Member: member, Method: tasksPrefix + "CreateTask", Permission: "cloudtasks.tasks.create", Resource: queue, Allowed: true},
		{Member: member, Method: tasksPrefix + "CreateTask", Permission: "iam.serviceAccounts.actAs", Resource: ServiceAccountName(invoker), Allowed: false},
		{Member: member, Method: tasksPrefix + "CreateTask", Permission: "cloudtasks.tasks.create", Resource: queue, Allowed: true},
	}
	if diff := cmp.Diff(want, proxy.Decisions()); diff != "" {
		t.Errorf("Decisions() mismatch (-want +got):\n%s", diff)
	}
	// One warning for the one refusal, naming who, what, which permission and where.
	var entries []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		delete(e, "time")
		entries = append(entries, e)
	}
	wantLogs := []map[string]any{{
		"level": "WARN", "msg": "iamcheck refused a call", "member": member, "method": tasksPrefix + "CreateTask",
		"permission": "iam.serviceAccounts.actAs", "resource": ServiceAccountName(invoker),
	}}
	if diff := cmp.Diff(wantLogs, entries); diff != "" {
		t.Errorf("logs mismatch (-want +got):\n%s", diff)
	}
}
