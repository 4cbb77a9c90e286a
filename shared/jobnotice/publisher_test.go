package jobnotice

import (
	"context"
	"os"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

func TestMain(m *testing.M) {
	os.Exit(gcloudemu.Main(m, gcloudemu.PubSub))
}

// pull receives and acknowledges n messages from sub, failing after a bounded wait.
func pull(t *testing.T, c *pubsub.Client, sub string, n int) []*pubsubpb.PubsubMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var got []*pubsubpb.PubsubMessage
	for len(got) < n {
		resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{
			Subscription: publish.SubscriptionName(c.Project(), sub), MaxMessages: int32(n - len(got))})
		if err != nil {
			t.Fatalf("pulling from %s after %d of %d messages: %v", sub, len(got), n, err)
		}
		var ack []string
		for _, m := range resp.ReceivedMessages {
			got = append(got, m.Message)
			ack = append(ack, m.AckId)
		}
		if len(ack) > 0 {
			if err := c.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{
				Subscription: publish.SubscriptionName(c.Project(), sub), AckIds: ack}); err != nil {
				t.Fatalf("acknowledging: %v", err)
			}
		}
	}
	return got
}

// TestPublishThroughThePubSubEmulator: notices published on the topic arrive with their
// attributes, and the same end published twice (a crash between publish and record) arrives as
// two messages with one notice_id. (The emulator delivers every message to a filtered
// subscription, so filters on the attributes are not checked here.)
func TestPublishThroughThePubSubEmulator(t *testing.T) {
	ctx := t.Context()
	c, err := pubsub.NewClient(ctx, gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	const topic = "backfill-job-events"
	if err := publish.EnsureTopic(ctx, c, c.Project(), topic); err != nil {
		t.Fatal(err)
	}
	if err := publish.EnsureSubscription(ctx, c, c.Project(), "all", topic, publish.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	p := NewPublisher(c, topic)
	t.Cleanup(p.Stop)

	done := testEnd
	done.JobID, done.Seq, done.State = "bf-00000000000000d0", 1, backfill.JobDone
	failed := testEnd
	for _, e := range []backfill.End{done, done, failed} { // done's notice twice
		if _, err := p.Publish(ctx, FromEnd(e)); err != nil {
			t.Fatal(err)
		}
	}

	byNotice := map[string]int{}
	ids := map[string]bool{}
	for _, m := range pull(t, c, "all", 3) {
		n, err := Decode(m.Data)
		if err != nil {
			t.Fatalf("Decode(%s) = %v", m.Data, err)
		}
		if m.Attributes[AttrNoticeID] != n.NoticeID || m.Attributes[AttrState] != n.State || m.Attributes[AttrJobID] != n.JobID {
			t.Errorf("attributes %v disagree with the body %s", m.Attributes, m.Data)
		}
		byNotice[n.NoticeID]++
		ids[m.MessageId] = true
	}
	if diff := cmp.Diff(map[string]int{"bf-00000000000000d0/1": 2, "bf-0123456789abcdef/2": 1}, byNotice); diff != "" {
		t.Errorf("messages per notice_id mismatch (-want +got):\n%s", diff)
	}
	if len(ids) != 3 {
		t.Errorf("%d distinct message ids for 3 publishes, want 3: a duplicate is told by notice_id, not message id", len(ids))
	}
}
