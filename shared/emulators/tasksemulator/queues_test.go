package tasksemulator

import (
	"context"
	"fmt"
	"testing"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

func TestCreateQueueDefaults(t *testing.T) {
	_, client := newTestServer(t)
	got := mustCreateQueue(t, client, "defaults", nil)
	want := &cloudtaskspb.Queue{
		Name: queueName("defaults"),
		RateLimits: &cloudtaskspb.RateLimits{
			MaxDispatchesPerSecond: 500, MaxBurstSize: 500, MaxConcurrentDispatches: 1000,
		},
		RetryConfig: &cloudtaskspb.RetryConfig{
			MaxAttempts: 100, MinBackoff: durationpb.New(100 * time.Millisecond),
			MaxBackoff: durationpb.New(time.Hour), MaxDoublings: 16,
		},
		State: cloudtaskspb.Queue_RUNNING,
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("CreateQueue() mismatch (-want +got):\n%s", diff)
	}
	fetched, err := client.GetQueue(context.Background(), &cloudtaskspb.GetQueueRequest{Name: queueName("defaults")})
	if err != nil {
		t.Fatalf("GetQueue() error = %v", err)
	}
	if diff := cmp.Diff(want, fetched, protocmp.Transform()); diff != "" {
		t.Errorf("GetQueue() mismatch (-want +got):\n%s", diff)
	}
}

func TestQueueValidation(t *testing.T) {
	_, client := newTestServer(t)
	mustCreateQueue(t, client, "exists", nil)
	long := make([]byte, 101)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name   string
		parent string
		queue  *cloudtaskspb.Queue
		want   codes.Code
	}{
		{"bad parent", "projects/p", &cloudtaskspb.Queue{Name: "projects/p/queues/q"}, codes.InvalidArgument},
		{"underscore in id", testLocation, &cloudtaskspb.Queue{Name: queueName("bad_id")}, codes.InvalidArgument},
		{"id too long", testLocation, &cloudtaskspb.Queue{Name: queueName(string(long))}, codes.InvalidArgument},
		{"other parent", testLocation, &cloudtaskspb.Queue{Name: "projects/other/locations/us-central1/queues/q"}, codes.InvalidArgument},
		{"rate above 500", testLocation, &cloudtaskspb.Queue{Name: queueName("fast"), RateLimits: &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: 501}}, codes.InvalidArgument},
		{"concurrency above 5000", testLocation, &cloudtaskspb.Queue{Name: queueName("wide"), RateLimits: &cloudtaskspb.RateLimits{MaxConcurrentDispatches: 5001}}, codes.InvalidArgument},
		{"max_attempts below -1", testLocation, &cloudtaskspb.Queue{Name: queueName("neg"), RetryConfig: &cloudtaskspb.RetryConfig{MaxAttempts: -2}}, codes.InvalidArgument},
		{"min above max backoff", testLocation, &cloudtaskspb.Queue{Name: queueName("inv"), RetryConfig: fastRetry(3, time.Minute, time.Second, 1)}, codes.InvalidArgument},
		{"exists", testLocation, &cloudtaskspb.Queue{Name: queueName("exists")}, codes.AlreadyExists},
		{"max id length ok", testLocation, &cloudtaskspb.Queue{Name: queueName(string(long[:100]))}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.CreateQueue(context.Background(), &cloudtaskspb.CreateQueueRequest{Parent: tt.parent, Queue: tt.queue})
			if got := status.Code(err); got != tt.want {
				t.Errorf("CreateQueue(%s) code = %v, want %v (err %v)", tt.queue.GetName(), got, tt.want, err)
			}
		})
	}
	for _, name := range []string{queueName("missing"), "queues/x"} {
		_, err := client.GetQueue(context.Background(), &cloudtaskspb.GetQueueRequest{Name: name})
		want := codes.NotFound
		if name == "queues/x" {
			want = codes.InvalidArgument
		}
		if got := status.Code(err); got != want {
			t.Errorf("GetQueue(%s) code = %v, want %v", name, got, want)
		}
	}
}

func TestListQueuesPagination(t *testing.T) {
	_, client := newTestServer(t)
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("q-%02d", i)
		mustCreateQueue(t, client, id, nil)
		want = append(want, queueName(id))
	}
	mustCreateQueue(t, client, "x", nil)
	want = append(want, queueName("x"))
	// Another location's queue is not listed.
	if _, err := client.CreateQueue(context.Background(), &cloudtaskspb.CreateQueueRequest{
		Parent: "projects/test-project/locations/europe-west1",
		Queue:  &cloudtaskspb.Queue{Name: "projects/test-project/locations/europe-west1/queues/q-00"},
	}); err != nil {
		t.Fatalf("CreateQueue(europe) error = %v", err)
	}
	it := client.ListQueues(context.Background(), &cloudtaskspb.ListQueuesRequest{Parent: testLocation, PageSize: 3})
	var got []string
	pages := 0
	for {
		q, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			t.Fatalf("ListQueues().Next() error = %v", err)
		}
		if it.PageInfo().Remaining() == 0 {
			pages++
		}
		got = append(got, q.GetName())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListQueues() names mismatch (-want +got):\n%s", diff)
	}
	if pages != 3 {
		t.Errorf("ListQueues(page_size 3) pages = %d, want 3", pages)
	}
}

func TestUpdateAndDeleteQueue(t *testing.T) {
	_, client := newTestServer(t)
	mustCreateQueue(t, client, "upd", nil)
	ctx := context.Background()
	got, err := client.UpdateQueue(ctx, &cloudtaskspb.UpdateQueueRequest{
		Queue: &cloudtaskspb.Queue{
			Name:        queueName("upd"),
			RateLimits:  &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: 10, MaxConcurrentDispatches: 7},
			RetryConfig: &cloudtaskspb.RetryConfig{MaxAttempts: 5},
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"rate_limits.max_dispatches_per_second", "retry_config.max_attempts"}},
	})
	if err != nil {
		t.Fatalf("UpdateQueue() error = %v", err)
	}
	wantRL := &cloudtaskspb.RateLimits{MaxDispatchesPerSecond: 10, MaxBurstSize: 10, MaxConcurrentDispatches: 1000}
	if diff := cmp.Diff(wantRL, got.GetRateLimits(), protocmp.Transform()); diff != "" {
		t.Errorf("UpdateQueue() rate_limits mismatch (-want +got):\n%s", diff)
	}
	if got.GetRetryConfig().GetMaxAttempts() != 5 || got.GetRetryConfig().GetMaxDoublings() != 16 {
		t.Errorf("UpdateQueue() retry_config = %v, want max_attempts 5 and the other defaults kept", got.GetRetryConfig())
	}
	_, err = client.UpdateQueue(ctx, &cloudtaskspb.UpdateQueueRequest{
		Queue:      &cloudtaskspb.Queue{Name: queueName("upd")},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}},
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("UpdateQueue(mask state) code = %v, want InvalidArgument", status.Code(err))
	}
	// UpdateQueue creates a missing queue.
	if _, err := client.UpdateQueue(ctx, &cloudtaskspb.UpdateQueueRequest{Queue: &cloudtaskspb.Queue{Name: queueName("new")}}); err != nil {
		t.Errorf("UpdateQueue(missing queue) error = %v, want it created", err)
	}
	if err := client.DeleteQueue(ctx, &cloudtaskspb.DeleteQueueRequest{Name: queueName("upd")}); err != nil {
		t.Fatalf("DeleteQueue() error = %v", err)
	}
	if _, err := client.GetQueue(ctx, &cloudtaskspb.GetQueueRequest{Name: queueName("upd")}); status.Code(err) != codes.NotFound {
		t.Errorf("GetQueue(deleted) code = %v, want NotFound", status.Code(err))
	}
	if err := client.DeleteQueue(ctx, &cloudtaskspb.DeleteQueueRequest{Name: queueName("upd")}); status.Code(err) != codes.NotFound {
		t.Errorf("DeleteQueue(deleted) code = %v, want NotFound", status.Code(err))
	}
}
