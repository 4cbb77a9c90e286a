package iamcheck

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

const pubsubDenied = "User not authorized to perform this action."

// pubsubEnv is a project of the test's own on Google's Pub/Sub emulator with topics events and
// other, and subscriptions events-sub and other-sub on them, made by an admin client; it returns
// a function that gives the official client through a proxy for bindings, built as the
// functions build it (pubsub.NewClient reading PUBSUB_EMULATOR_HOST).
func pubsubEnv(t *testing.T) (projectID string, through func(bindings []Binding) (*pubsub.Client, *Proxy)) {
	t.Helper()
	host := emulatorHost(t, gcloudemu.PubSub)
	projectID = gcloudemu.NewProjectID(t)
	t.Setenv("PUBSUB_EMULATOR_HOST", host)
	admin, err := pubsub.NewClient(t.Context(), projectID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	for _, name := range []string{"events", "other"} {
		topic := "projects/" + projectID + "/topics/" + name
		if _, err := admin.TopicAdminClient.CreateTopic(t.Context(), &pubsubpb.Topic{Name: topic}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.SubscriptionAdminClient.CreateSubscription(t.Context(), &pubsubpb.Subscription{
			Name: "projects/" + projectID + "/subscriptions/" + name + "-sub", Topic: topic,
		}); err != nil {
			t.Fatal(err)
		}
	}
	return projectID, func(bindings []Binding) (*pubsub.Client, *Proxy) {
		t.Helper()
		proxy := startProxy(t, bindings, map[string]string{PubSub: host})
		t.Setenv("PUBSUB_EMULATOR_HOST", proxy.Addr())
		c, err := pubsub.NewClient(t.Context(), projectID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, proxy
	}
}

func TestPubSub(t *testing.T) {
	projectID, through := pubsubEnv(t)
	var (
		proj    = "projects/" + projectID
		events  = proj + "/topics/events"
		other   = proj + "/topics/other"
		publish = func(ctx context.Context, c *pubsub.Client) error {
			_, err := c.Publisher("events").Publish(ctx, &pubsub.Message{Data: []byte("x")}).Get(ctx)
			return err
		}
		getTopic = func(ctx context.Context, c *pubsub.Client) error {
			_, err := c.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: events})
			return err
		}
		createTopic = func(ctx context.Context, c *pubsub.Client) error {
			_, err := c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: proj + "/topics/made-" + time.Now().Format("150405.000000000")})
			return err
		}
		createSub = func(ctx context.Context, c *pubsub.Client) error {
			_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: proj + "/subscriptions/made-" + time.Now().Format("150405.000000000"), Topic: events})
			return err
		}
	)
	bind := func(role, res string) []Binding { return []Binding{{Member: member, Role: role, Resource: res}} }
	tests := []struct {
		name     string
		bindings []Binding
		call     func(context.Context, *pubsub.Client) error
		allowed  bool
	}{
		{"Publish publisher on the topic", bind("roles/pubsub.publisher", events), publish, true},
		{"Publish editor on the project", bind("roles/pubsub.editor", proj), publish, true},
		{"Publish publisher on another topic", bind("roles/pubsub.publisher", other), publish, false},
		{"Publish subscriber lacks publish", bind("roles/pubsub.subscriber", events), publish, false},
		{"Publish no role", nil, publish, false},
		{"GetTopic viewer", bind("roles/pubsub.viewer", events), getTopic, true},
		{"GetTopic publisher lacks get", bind("roles/pubsub.publisher", events), getTopic, false},
		{"GetTopic viewer on another topic", bind("roles/pubsub.viewer", other), getTopic, false},
		{"CreateTopic editor on the project", bind("roles/pubsub.editor", proj), createTopic, true},
		{"CreateTopic publisher lacks create", bind("roles/pubsub.publisher", proj), createTopic, false},
		{"CreateTopic editor on another project", bind("roles/pubsub.editor", "projects/elsewhere"), createTopic, false},
		{"CreateSubscription editor on the project", bind("roles/pubsub.editor", proj), createSub, true},
		{"CreateSubscription subscriber can attach but not create", bind("roles/pubsub.subscriber", proj), createSub, false},
		{"CreateSubscription no role", nil, createSub, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := through(tt.bindings)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			err := tt.call(ctx, c)
			if tt.allowed {
				if err != nil {
					t.Errorf("call = %v, want it allowed", err)
				}
				return
			}
			if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != pubsubDenied {
				t.Errorf("call = %v, want PermissionDenied %q", err, pubsubDenied)
			}
		})
	}
}

// TestStreamingPull receives and acknowledges through the proxy with the subscriber role on
// the subscription, and is refused on a subscription it may not consume.
func TestStreamingPull(t *testing.T) {
	projectID, through := pubsubEnv(t)
	sub := "projects/" + projectID + "/subscriptions/events-sub"

	t.Run("subscriber on the subscription", func(t *testing.T) {
		c, proxy := through([]Binding{
			{Member: member, Role: "roles/pubsub.subscriber", Resource: sub},
			{Member: member, Role: "roles/pubsub.publisher", Resource: "projects/" + projectID + "/topics/events"},
		})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if _, err := c.Publisher("events").Publish(ctx, &pubsub.Message{Data: []byte("hello")}).Get(ctx); err != nil {
			t.Fatalf("Publish = %v", err)
		}
		var got string
		err := c.Subscriber("events-sub").Receive(ctx, func(_ context.Context, m *pubsub.Message) {
			got = string(m.Data)
			m.Ack()
			cancel()
		})
		if err != nil || got != "hello" {
			t.Fatalf("Receive = %v with message %q, want hello", err, got)
		}
		// The Go client pulls on the stream and acknowledges with unary Acknowledge calls;
		// both need pubsub.subscriptions.consume on the subscription.
		checked := map[string]bool{}
		for _, d := range proxy.Decisions() {
			if d.Permission == "pubsub.subscriptions.consume" && d.Resource == sub && d.Allowed {
				checked[d.Method] = true
			}
		}
		for _, m := range []string{subPrefix + "StreamingPull", subPrefix + "Acknowledge"} {
			if !checked[m] {
				t.Errorf("Decisions() = %v, want %s allowed with pubsub.subscriptions.consume on %s", proxy.Decisions(), m, sub)
			}
		}
	})
	t.Run("subscriber on another subscription", func(t *testing.T) {
		c, _ := through([]Binding{{Member: member, Role: "roles/pubsub.subscriber", Resource: "projects/" + projectID + "/subscriptions/other-sub"}})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		err := c.Subscriber("events-sub").Receive(ctx, func(context.Context, *pubsub.Message) {})
		if st, _ := status.FromError(err); st.Code() != codes.PermissionDenied || st.Message() != pubsubDenied {
			t.Errorf("Receive = %v, want PermissionDenied %q", err, pubsubDenied)
		}
	})
}
