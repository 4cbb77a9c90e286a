package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

func TestMain(m *testing.M) {
	os.Exit(gcloudemu.Main(m, gcloudemu.PubSub))
}

// newClient returns a Pub/Sub client on a project of the test's own.
func newClient(tb testing.TB) *pubsub.Client {
	tb.Helper()
	c, err := pubsub.NewClient(context.Background(), gcloudemu.NewProjectID(tb))
	if err != nil {
		tb.Fatalf("pubsub.NewClient = %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// topicWithSub creates topic "events" and a pull subscription "events-test" on it.
func topicWithSub(t *testing.T, c *pubsub.Client) (topic, sub string) {
	t.Helper()
	topic, sub = "events", "events-test"
	if err := EnsureTopic(t.Context(), c, c.Project(), topic); err != nil {
		t.Fatal(err)
	}
	if err := EnsureSubscription(t.Context(), c, c.Project(), sub, topic, SubscriptionOptions{Ordering: true}); err != nil {
		t.Fatal(err)
	}
	return topic, sub
}

// pull receives and acknowledges n messages from sub, failing after a bounded wait.
func pull(t *testing.T, c *pubsub.Client, sub string, n int) []*pubsubpb.PubsubMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got []*pubsubpb.PubsubMessage
	for len(got) < n {
		resp, err := c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{
			Subscription: SubscriptionName(c.Project(), sub),
			MaxMessages:  int32(n - len(got)),
		})
		if err != nil {
			t.Fatalf("pulling from %s after %d of %d messages: %v", sub, len(got), n, err)
		}
		var ack []string
		for _, m := range resp.ReceivedMessages {
			got = append(got, m.Message)
			ack = append(ack, m.AckId)
		}
		if len(ack) > 0 {
			if err := c.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: SubscriptionName(c.Project(), sub), AckIds: ack}); err != nil {
				t.Fatalf("acknowledging: %v", err)
			}
		}
	}
	return got
}

// received is what a subscriber sees of one message.
type received struct {
	Attributes  map[string]string
	OrderingKey string
}

func TestPublishKeepsAttributes(t *testing.T) {
	c := newClient(t)
	topic, sub := topicWithSub(t, c)
	s := DefaultSettings()
	s.Ordering = true
	p := New(c, topic, s)
	defer p.Stop()

	msgs := []Message{
		{Data: []byte("plain"), Attributes: map[string]string{"kind": "tweet", "schema_version": "1"}},
		{Data: []byte("unicode"), Attributes: map[string]string{"source": "collector-ü", "lang": "日本語", "empty": ""}},
		{Data: []byte("ordered"), Attributes: map[string]string{"kind": "app_event"}, OrderingKey: "user-42"},
		{Data: []byte("no attributes")},
		{Data: []byte("many"), Attributes: manyAttributes(50)},
	}
	for i, err := range p.PublishAll(t.Context(), msgs) {
		if err != nil {
			t.Errorf("PublishAll: message %d: %v", i, err)
		}
	}
	want := map[string]received{}
	for _, m := range msgs {
		want[string(m.Data)] = received{Attributes: m.Attributes, OrderingKey: m.OrderingKey}
	}
	got := map[string]received{}
	for _, m := range pull(t, c, sub, len(msgs)) {
		got[string(m.Data)] = received{Attributes: m.Attributes, OrderingKey: m.OrderingKey}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("received messages mismatch (-want +got):\n%s", diff)
	}
}

func manyAttributes(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("attr_%02d", i)] = strings.Repeat("v", i)
	}
	return m
}

func TestPublishAllReportsEachFailure(t *testing.T) {
	c := newClient(t)
	topic, sub := topicWithSub(t, c)
	p := New(c, topic, DefaultSettings())
	defer p.Stop()

	msgs := []Message{
		{Data: []byte("first")},
		{Data: bytes.Repeat([]byte("x"), 10<<20+1)}, // over the 10 MB request limit
		{Data: []byte("third")},
	}
	errs := p.PublishAll(t.Context(), msgs)
	if len(errs) != len(msgs) {
		t.Fatalf("PublishAll returned %d errors, want one per message (%d)", len(errs), len(msgs))
	}
	for i, err := range errs {
		if i == 1 {
			continue
		}
		if err != nil {
			t.Errorf("PublishAll: message %d = %v, want nil", i, err)
		}
	}
	if want := "publishing message 1 to topic events: "; errs[1] == nil || !strings.HasPrefix(errs[1].Error(), want) {
		t.Errorf("PublishAll: message 1 = %v, want an error starting %q", errs[1], want)
	}
	if !errors.Is(errs[1], ErrOversized) {
		t.Errorf("PublishAll: message 1 = %v, want it to wrap ErrOversized", errs[1])
	}
	var got []string
	for _, m := range pull(t, c, sub, 2) {
		got = append(got, string(m.Data))
	}
	if diff := cmp.Diff([]string{"first", "third"}, got, sortStrings); diff != "" {
		t.Errorf("received mismatch (-want +got):\n%s", diff)
	}
}

var sortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestPublishToMissingTopic(t *testing.T) {
	c := newClient(t)
	p := New(c, "no-such-topic", DefaultSettings())
	defer p.Stop()

	_, err := p.Publish(t.Context(), Message{Data: []byte("lost")}).Get(t.Context())
	want := "publishing to topic no-such-topic: topic no-such-topic does not exist (create it with EnsureTopic or Terraform): "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Publish to a missing topic: Get() = %v, want an error starting %q", err, want)
	}
	if status.Code(err) != codes.NotFound && !IsTopicNotFound(err) {
		t.Errorf("IsTopicNotFound(%v) = false, want true", err)
	}
	errs := p.PublishAll(t.Context(), []Message{{Data: []byte("a")}})
	if want := "publishing message 0 to topic no-such-topic: topic no-such-topic does not exist"; errs[0] == nil || !strings.HasPrefix(errs[0].Error(), want) {
		t.Errorf("PublishAll to a missing topic = %v, want an error starting %q", errs[0], want)
	}
}

func TestPublishAfterStop(t *testing.T) {
	c := newClient(t)
	topic, _ := topicWithSub(t, c)
	p := New(c, topic, DefaultSettings())
	if _, err := p.Publish(t.Context(), Message{Data: []byte("before")}).Get(t.Context()); err != nil {
		t.Fatalf("Publish before Stop: %v", err)
	}
	p.Stop()
	_, err := p.Publish(t.Context(), Message{Data: []byte("after")}).Get(t.Context())
	if !errors.Is(err, pubsub.ErrPublisherStopped) {
		t.Errorf("Publish after Stop: Get() = %v, want ErrPublisherStopped", err)
	}
}

func TestStopFlushes(t *testing.T) {
	c := newClient(t)
	topic, sub := topicWithSub(t, c)
	s := DefaultSettings()
	s.DelayThreshold = time.Hour // only Stop can send these
	s.CountThreshold = 1000
	p := New(c, topic, s)
	var results []*Result
	for i := range 3 {
		results = append(results, p.Publish(t.Context(), Message{Data: []byte{byte('a' + i)}}))
	}
	p.Stop()
	for i, r := range results {
		select {
		case <-r.Ready():
		default:
			t.Errorf("result %d not ready after Stop, want Stop to have flushed it", i)
		}
	}
	if got := len(pull(t, c, sub, 3)); got != 3 {
		t.Errorf("received %d messages after Stop, want 3", got)
	}
}

// benchSettings are the settings the benchmarks compare.
func benchSettings() []struct {
	name string
	s    Settings
} {
	unbatched := DefaultSettings()
	unbatched.CountThreshold = 1
	return []struct {
		name string
		s    Settings
	}{
		{"chosen", DefaultSettings()},
		{"client-defaults", ClientSettings()},
		{"unbatched", unbatched},
	}
}

// benchMessage is a typical event: 3 KB of JSON-ish payload and a few attributes.
var benchMessage = Message{
	Data:       bytes.Repeat([]byte(`{"k":"v"}`), 3<<10/9),
	Attributes: map[string]string{"kind": "app_event", "schema_version": "1", "source": "collector"},
}

// benchTopic creates a topic with no subscription, so the emulator does not keep the messages.
func benchTopic(b *testing.B) (*pubsub.Client, string) {
	b.Helper()
	c := newClient(b)
	if err := EnsureTopic(context.Background(), c, c.Project(), "bench"); err != nil {
		b.Fatal(err)
	}
	return c, "bench"
}

// publishBurst publishes n messages as fast as Publish accepts them and waits for all results.
func publishBurst(b *testing.B, p *Publisher, n int) {
	ctx := context.Background()
	results := make([]*Result, n)
	for i := range n {
		results[i] = p.Publish(ctx, benchMessage)
	}
	for i, r := range results {
		if _, err := r.Get(ctx); err != nil {
			b.Fatalf("message %d: %v", i, err)
		}
	}
}

// warmUp runs the emulator's publish path until its JIT has compiled it;
// otherwise whichever setting runs first is measured against a cold JVM.
func warmUp(b *testing.B, c *pubsub.Client, topic string) {
	p := New(c, topic, ClientSettings())
	defer p.Stop()
	for range 10 {
		publishBurst(b, p, 2000)
	}
}

// BenchmarkPublish measures messages/s of one burst of b.N messages per setting.
func BenchmarkPublish(b *testing.B) {
	c, topic := benchTopic(b)
	warmUp(b, c, topic)
	for _, bs := range benchSettings() {
		b.Run(bs.name, func(b *testing.B) {
			p := New(c, topic, bs.s)
			defer p.Stop()
			publishBurst(b, p, 10) // start the batching goroutines outside the timing
			b.ResetTimer()
			publishBurst(b, p, b.N)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkPublishRatio publishes the same bursts of 2000 messages with each
// setting and reports the throughput of the chosen settings relative to the others.
func BenchmarkPublishRatio(b *testing.B) {
	const burst = 2000
	c, topic := benchTopic(b)
	warmUp(b, c, topic)
	settings := benchSettings()
	pubs := make([]*Publisher, len(settings))
	for i, bs := range settings {
		pubs[i] = New(c, topic, bs.s)
		defer pubs[i].Stop()
		publishBurst(b, pubs[i], 10)
	}
	spent := make([]time.Duration, len(settings))
	b.ResetTimer()
	for range b.N {
		for i, p := range pubs {
			start := time.Now()
			publishBurst(b, p, burst)
			spent[i] += time.Since(start)
		}
	}
	for i, bs := range settings {
		b.ReportMetric(float64(burst*b.N)/spent[i].Seconds(), bs.name+"-msgs/s")
	}
	b.ReportMetric(spent[1].Seconds()/spent[0].Seconds(), "chosen/client-defaults")
	b.ReportMetric(spent[2].Seconds()/spent[0].Seconds(), "chosen/unbatched")
}
