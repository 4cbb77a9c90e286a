package publish

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TopicName returns the full resource name projects/{project}/topics/{topic}.
func TopicName(project, topic string) string {
	if strings.HasPrefix(topic, "projects/") {
		return topic
	}
	return "projects/" + project + "/topics/" + topic
}

// SubscriptionName returns the full resource name projects/{project}/subscriptions/{sub}.
func SubscriptionName(project, sub string) string {
	if strings.HasPrefix(sub, "projects/") {
		return sub
	}
	return "projects/" + project + "/subscriptions/" + sub
}

// EnsureTopic creates the topic unless it exists; the local stack and tests
// call it to create what Terraform creates in the cloud.
func EnsureTopic(ctx context.Context, client *pubsub.Client, project, topic string) error {
	name := TopicName(project, topic)
	_, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("creating topic %s: %w", name, err)
	}
	return nil
}

// SubscriptionOptions configure EnsureSubscription; zero values leave the service defaults.
type SubscriptionOptions struct {
	// AckDeadline is how long a delivery may stay unacknowledged (10 s to 600 s).
	AckDeadline time.Duration
	// DeadLetterTopic receives messages after MaxDeliveryAttempts failed deliveries (topic id or full name).
	DeadLetterTopic string
	// MaxDeliveryAttempts is the number of deliveries before dead-lettering (5 to 100; 0 means 5).
	MaxDeliveryAttempts int
	// RetryMinBackoff and RetryMaxBackoff set exponential redelivery backoff; zero means immediate redelivery.
	RetryMinBackoff, RetryMaxBackoff time.Duration
	// PushEndpoint makes it a push subscription to this URL; empty means pull.
	PushEndpoint string
	// Ordering delivers messages with the same ordering key in order.
	Ordering bool
	// Filter delivers only the messages it matches (Pub/Sub's filter syntax, e.g. on attributes.kind).
	Filter string
}

// EnsureSubscription creates subscription sub on topic unless it exists. An
// existing subscription is left as it is, even if its settings differ: in the
// cloud Terraform owns them.
func EnsureSubscription(ctx context.Context, client *pubsub.Client, project, sub, topic string, opts SubscriptionOptions) error {
	req := &pubsubpb.Subscription{
		Name:                  SubscriptionName(project, sub),
		Topic:                 TopicName(project, topic),
		EnableMessageOrdering: opts.Ordering,
		Filter:                opts.Filter,
	}
	if opts.AckDeadline > 0 {
		req.AckDeadlineSeconds = int32(opts.AckDeadline / time.Second)
	}
	if opts.DeadLetterTopic != "" {
		attempts := opts.MaxDeliveryAttempts
		if attempts == 0 {
			attempts = 5
		}
		req.DeadLetterPolicy = &pubsubpb.DeadLetterPolicy{
			DeadLetterTopic:     TopicName(project, opts.DeadLetterTopic),
			MaxDeliveryAttempts: int32(attempts),
		}
	}
	if opts.RetryMinBackoff > 0 || opts.RetryMaxBackoff > 0 {
		req.RetryPolicy = &pubsubpb.RetryPolicy{}
		if opts.RetryMinBackoff > 0 {
			req.RetryPolicy.MinimumBackoff = durationpb.New(opts.RetryMinBackoff)
		}
		if opts.RetryMaxBackoff > 0 {
			req.RetryPolicy.MaximumBackoff = durationpb.New(opts.RetryMaxBackoff)
		}
	}
	if opts.PushEndpoint != "" {
		req.PushConfig = &pubsubpb.PushConfig{PushEndpoint: opts.PushEndpoint}
	}
	_, err := client.SubscriptionAdminClient.CreateSubscription(ctx, req)
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("creating subscription %s on topic %s: %w", req.Name, req.Topic, err)
	}
	return nil
}
