package localstack

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/jobnotice"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
)

func startBackfillStack(t *testing.T, b *BackfillOptions) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Project: gcloudemu.NewProjectID(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Backfill: b})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestBackfillEndToEnd(t *testing.T) {
	s := startBackfillStack(t, &BackfillOptions{Fakes: map[string][]sourcestest.Option{"youtube_analytics": []sourcestest.Option{sourcestest.WithLatency(5 * time.Millisecond)}}})
	ctx := context.Background()
	// A user's subscription to the job notices, as one would add it to Terraform's topic.
	const notices = "backfill-job-events-e2e"
	if err := publish.EnsureSubscription(ctx, s.PubSub, s.Project, notices, JobEventsTopic, publish.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC().AddDate(0, 0, -3)
	c, err := s.StartBackfill(ctx, youtubefake.Spec(3, 5, "day", end))
	if err != nil {
		t.Fatal(err)
	}
	if c.PlannedTasks != 15 {
		t.Errorf("planned %d tasks, want 15", c.PlannedTasks)
	}
	st, err := s.WaitBackfill(ctx, c.JobID, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "done" || st.Counts.Succeeded != 15 || st.Counts.Rows != 15 {
		t.Errorf("status = %+v, want done with 15 tasks and 15 rows", st)
	}
	truth, err := s.BackfillRows(ctx, c.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if truth.Keys != 15 || truth.DedupRows != 15 {
		t.Errorf("BigQuery holds %+v, want 15 keys and 15 dedup rows", truth)
	}

	// The scheduled sweep stores the end and publishes its notice, through Backfill's checking
	// proxy (Terraform's publisher role on the topic; Close fails on a refused call).
	if err := s.SweepBackfills(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := pullNotices(t, s, notices, 1)
	n, err := jobnotice.Decode(msgs[0].Data)
	if err != nil {
		t.Fatalf("Decode(%s) = %v", msgs[0].Data, err)
	}
	if n.JobID != c.JobID || n.State != "done" || n.EndSeq != 1 || n.Counts.Succeeded != 15 || n.Counts.Rows != 15 ||
		msgs[0].Attributes[jobnotice.AttrNoticeID] != c.JobID+"/1" || msgs[0].Attributes[jobnotice.AttrState] != "done" {
		t.Errorf("notice = %s with attributes %v, want job %s done with 15 tasks and 15 rows, notice_id %s/1", msgs[0].Data, msgs[0].Attributes, c.JobID, c.JobID)
	}
}

// pullNotices receives and acknowledges n messages from the subscription sub, failing after a
// bounded wait.
func pullNotices(t *testing.T, s *Stack, sub string, n int) []*pubsubpb.PubsubMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	name := publish.SubscriptionName(s.Project, sub)
	var got []*pubsubpb.PubsubMessage
	for len(got) < n {
		resp, err := s.PubSub.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: name, MaxMessages: int32(n - len(got))})
		if err != nil {
			t.Fatalf("pulling from %s after %d of %d messages: %v", sub, len(got), n, err)
		}
		var ack []string
		for _, m := range resp.ReceivedMessages {
			got = append(got, m.Message)
			ack = append(ack, m.AckId)
		}
		if len(ack) > 0 {
			if err := s.PubSub.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: name, AckIds: ack}); err != nil {
				t.Fatalf("acknowledging: %v", err)
			}
		}
	}
	return got
}
