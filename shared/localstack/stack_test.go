package localstack

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(orphanRoleEnv); role != "" {
		playOrphanRole(role)
	}
	os.Exit(gcloudemu.Main(m, gcloudemu.PubSub, gcloudemu.Firestore))
}

// One stack for the package: starting one builds the functions binary.
func startStack(t *testing.T) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Project: gcloudemu.NewProjectID(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
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

// A capture in the stream's CRLF framing: keep-alives, a line that is not JSON, a JSON line that
// is no X message, and a last line cut off mid-object.
var capture = strings.Join([]string{
	`{"created_at":"Mon Oct 26 09:35:18 +0000 2015","id_str":"658224858933927940","text":"#go","lang":"en","user":{"id_str":"1","screen_name":"a"},"entities":{"hashtags":[{"text":"go"}]}}`,
	``,
	`{"data":{"id":"1377650090978992134","text":"hi","referenced_tweets":[{"type":"quoted","id":"1"}]},"matching_rules":[{"id":1377649934414049282,"tag":null}]}`,
	`<html>502 Bad Gateway</html>`,
	`{"delete":{"status":{"id":658224858933927940,"id_str":"658224858933927940","user_id":1,"user_id_str":"1"},"timestamp_ms":"1482242573699"}}`,
	``,
	`{"some":"other json"}`,
	`{"event":"follow","source":{"id_str":"5"},"target":{"id_str":"1"}}`,
	`{"errors":[{"title":"operational-disconnect","disconnect_type":"OperationalDisconnect","detail":"gone"}]}`,
	`{"data":{"id":"13776500909789921`,
}, "\r\n")

func TestReplayAccountsForEveryLine(t *testing.T) {
	s := startStack(t)
	file := filepath.Join(t.TempDir(), "capture.json")
	if err := os.WriteFile(file, []byte(capture), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := s.Replay(context.Background(), []string{file}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	wantKinds := map[string]int{"tweet": 1, "quote": 1, "delete": 1, "stream_error": 1, Unclassified: 2}
	if diff := cmp.Diff(wantKinds, sum.ByKind); diff != "" {
		t.Errorf("by_kind mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"event:follow": 1}, sum.UnmodelledXTypes); diff != "" {
		t.Errorf("unmodelled X types mismatch (-want +got):\n%s", diff)
	}
	if sum.Published != 6 || sum.RejectedLines != 2 || sum.DeadLetters != 2 {
		t.Errorf("published %d, rejected %d, dead letters %d; want 6, 2, 2", sum.Published, sum.RejectedLines, sum.DeadLetters)
	}
	want := map[string]int{event.TableTweets: 2, event.TableStreamEvents: 2, event.TableAppEvents: 0}
	if diff := cmp.Diff(want, sum.Loaded); diff != "" {
		t.Errorf("loaded mismatch (-want +got):\n%s", diff)
	}
	wantReasons := map[string]int{
		`data: unknown kind: a JSON object that is neither an X stream message nor an app event (top-level keys: "some")`: 1,
		`data: unmodelled X message type "event:follow": an X stream message the event contract does not model`:           1,
	}
	if diff := cmp.Diff(wantReasons, sum.DeadLetterReasons); diff != "" {
		t.Errorf("dead letter reasons mismatch (-want +got):\n%s", diff)
	}
	// The delete notice hides the replayed tweet from the current view.
	rows, err := s.BigQuery.Query(context.Background(), "SELECT tweet_id FROM `"+s.Project+".events.tweets_current`")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]map[string]any{{"tweet_id": "1377650090978992134"}}, rows); diff != "" {
		t.Errorf("tweets_current mismatch (-want +got):\n%s", diff)
	}
}

// TestEmulatorPushReachesTheLoader: the Pub/Sub emulator's own push delivery (the raw push body,
// which the Functions Framework converts to a CloudEvent) loads too.
func TestEmulatorPushReachesTheLoader(t *testing.T) {
	s := startStack(t)
	ctx := context.Background()
	if err := publish.EnsureTopic(ctx, s.PubSub, s.Project, "pushed"); err != nil {
		t.Fatal(err)
	}
	if err := publish.EnsureSubscription(ctx, s.PubSub, s.Project, "pushed-loader", "pushed", publish.SubscriptionOptions{
		AckDeadline: 10 * time.Second, PushEndpoint: s.Functions.URL + "/LoadEvents",
	}); err != nil {
		t.Fatal(err)
	}
	p := s.PubSub.Publisher("pushed")
	defer p.Stop()
	id, err := p.Publish(ctx, &pubsub.Message{Data: []byte(`{"kind":"search","query":"pushed"}`), Attributes: map[string]string{"source": "app"}}).Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		counts, _, err := s.CountMessages(ctx, []string{id})
		if err != nil {
			t.Fatal(err)
		}
		if counts[event.TableAppEvents] == 1 {
			break
		}
		if counts[event.TableDeadLetters] > 0 || time.Now().After(deadline) {
			t.Fatalf("pushed message %s: counts %v, want one app_events row", id, counts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
