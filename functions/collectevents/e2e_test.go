package collectevents

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// TestEndToEnd drives the production wiring (NewHandler) over HTTP against the Pub/Sub and
// Firestore emulators, and pulls what was published.
func TestEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	project := gcloudemu.NewProjectID(t)
	const topic, sub = "app-events", "app-events-loader"
	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		t.Fatalf("creating Pub/Sub client: %v", err)
	}
	defer ps.Close()
	if err := publish.EnsureTopic(ctx, ps, project, topic); err != nil {
		t.Fatal(err)
	}
	if err := publish.EnsureSubscription(ctx, ps, project, sub, topic, publish.SubscriptionOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(config.Map(map[string]string{"GOOGLE_CLOUD_PROJECT": project, "EVENTS_TOPIC": topic}))
	if err != nil {
		t.Fatalf("LoadConfig() = %v", err)
	}
	logger, logs := functest.Logger()
	h, shutdown, err := NewHandler(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("NewHandler() = %v", err)
	}
	defer func() {
		if err := shutdown(); err != nil {
			t.Errorf("shutdown() = %v", err)
		}
	}()
	srv := httptest.NewServer(h)
	defer srv.Close()

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	body := "[" + search1 + "," + noID + `,{"kind":"detail_view"}]`
	steps := []struct {
		want     Response
		wantMsgs []publish.Message
	}{
		{
			want: Response{Accepted: 2, Rejected: 1, Results: []Result{
				accepted(0, "s1"), accepted(1, ""), {Index: 2, Status: StatusRejected, Field: "item_id"},
			}},
			wantMsgs: []publish.Message{msg(search1, "search", "s1"), msg(noID, "other", "")}, // sorted by data
		},
		{
			// Sent again: s1 was marked seen in Firestore, the event without an id goes out again.
			want: Response{Accepted: 1, Rejected: 1, Duplicates: 1, Results: []Result{
				{Index: 0, ID: "s1", Status: StatusDuplicate}, accepted(1, ""), {Index: 2, Status: StatusRejected, Field: "item_id"},
			}},
			wantMsgs: []publish.Message{msg(noID, "other", "")},
		},
	}
	for i, st := range steps {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("step %d: POST: %v", i, err)
		}
		var got reply
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err != nil {
			t.Fatalf("step %d: decoding response: %v", i, err)
		}
		if res.StatusCode != http.StatusOK {
			t.Errorf("step %d: status = %d, want 200", i, res.StatusCode)
		}
		if diff := cmp.Diff(reply{Response: st.want}, matchReasons(got, reply{Response: st.want})); diff != "" {
			t.Errorf("step %d: response mismatch (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(st.wantMsgs, pull(ctx, t, ps, project, sub, len(st.wantMsgs))); diff != "" {
			t.Errorf("step %d: pulled messages mismatch (-want +got):\n%s", i, diff)
		}
	}
	if want := `"logging.googleapis.com/trace":"projects/` + project + `/traces/` + traceID + `"`; !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack the request's trace %s:\n%s", want, logs)
	}
}

// pull receives and acks n messages from sub, sorted by data, failing the test at ctx's deadline.
func pull(ctx context.Context, t *testing.T, ps *pubsub.Client, project, sub string, n int) []publish.Message {
	t.Helper()
	var got []publish.Message
	for len(got) < n {
		resp, err := ps.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{
			Subscription: publish.SubscriptionName(project, sub), MaxMessages: int32(n - len(got)),
		})
		if err != nil {
			t.Fatalf("pulling from %s after %d of %d messages: %v", sub, len(got), n, err)
		}
		var ackIDs []string
		for _, m := range resp.ReceivedMessages {
			got = append(got, publish.Message{Data: m.Message.Data, Attributes: m.Message.Attributes, OrderingKey: m.Message.OrderingKey})
			ackIDs = append(ackIDs, m.AckId)
		}
		if len(ackIDs) > 0 {
			if err := ps.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{
				Subscription: publish.SubscriptionName(project, sub), AckIds: ackIDs,
			}); err != nil {
				t.Fatalf("acknowledging: %v", err)
			}
		}
	}
	sort.Slice(got, func(i, j int) bool { return bytes.Compare(got[i].Data, got[j].Data) < 0 })
	return got
}
