package publish

import (
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestEnsureTopicIsIdempotent(t *testing.T) {
	c := newClient(t)
	for i := range 2 {
		if err := EnsureTopic(t.Context(), c, c.Project(), "events"); err != nil {
			t.Errorf("EnsureTopic call %d = %v, want nil", i+1, err)
		}
	}
	if _, err := c.TopicAdminClient.GetTopic(t.Context(), &pubsubpb.GetTopicRequest{Topic: TopicName(c.Project(), "events")}); err != nil {
		t.Errorf("GetTopic after EnsureTopic = %v", err)
	}
}

func TestEnsureSubscription(t *testing.T) {
	c := newClient(t)
	p := c.Project()
	for _, topic := range []string{"events", "events-dead-letter"} {
		if err := EnsureTopic(t.Context(), c, p, topic); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		opts SubscriptionOptions
		want *pubsubpb.Subscription
	}{
		{
			name: "pull with defaults",
			want: &pubsubpb.Subscription{AckDeadlineSeconds: 10},
		},
		{
			name: "ack deadline, dead letters, retry backoff, ordering",
			opts: SubscriptionOptions{
				AckDeadline:         60 * time.Second,
				DeadLetterTopic:     "events-dead-letter",
				MaxDeliveryAttempts: 7,
				RetryMinBackoff:     10 * time.Second,
				RetryMaxBackoff:     5 * time.Minute,
				Ordering:            true,
			},
			want: &pubsubpb.Subscription{
				AckDeadlineSeconds:    60,
				DeadLetterPolicy:      &pubsubpb.DeadLetterPolicy{DeadLetterTopic: TopicName(p, "events-dead-letter"), MaxDeliveryAttempts: 7},
				RetryPolicy:           &pubsubpb.RetryPolicy{MinimumBackoff: durationpb.New(10 * time.Second), MaximumBackoff: durationpb.New(5 * time.Minute)},
				EnableMessageOrdering: true,
			},
		},
		{
			name: "push",
			opts: SubscriptionOptions{PushEndpoint: "http://127.0.0.1:1/push"},
			want: &pubsubpb.Subscription{AckDeadlineSeconds: 10, PushConfig: &pubsubpb.PushConfig{PushEndpoint: "http://127.0.0.1:1/push"}},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := "sub-" + string(rune('a'+i))
			for call := range 2 {
				if err := EnsureSubscription(t.Context(), c, p, sub, "events", tt.opts); err != nil {
					t.Errorf("EnsureSubscription call %d = %v, want nil", call+1, err)
				}
			}
			got, err := c.SubscriptionAdminClient.GetSubscription(t.Context(), &pubsubpb.GetSubscriptionRequest{Subscription: SubscriptionName(p, sub)})
			if err != nil {
				t.Fatalf("GetSubscription = %v", err)
			}
			tt.want.Name, tt.want.Topic = SubscriptionName(p, sub), TopicName(p, "events")
			if diff := cmp.Diff(tt.want, got, protocmp.Transform(),
				protocmp.IgnoreFields(&pubsubpb.Subscription{}, "message_retention_duration", "expiration_policy", "state"),
				protocmp.IgnoreEmptyMessages()); diff != "" {
				t.Errorf("subscription mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnsureSubscriptionOnMissingTopic(t *testing.T) {
	c := newClient(t)
	if err := EnsureSubscription(t.Context(), c, c.Project(), "orphan", "no-such-topic", SubscriptionOptions{}); err == nil {
		t.Error("EnsureSubscription on a missing topic = nil, want an error")
	}
}

func TestResourceNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{TopicName("p", "events"), "projects/p/topics/events"},
		{TopicName("p", "projects/q/topics/x"), "projects/q/topics/x"},
		{SubscriptionName("p", "s"), "projects/p/subscriptions/s"},
		{SubscriptionName("p", "projects/q/subscriptions/s"), "projects/q/subscriptions/s"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("name = %q, want %q", tt.got, tt.want)
		}
	}
}
