package streamtweets

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/lease"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

func TestMain(m *testing.M) {
	functest.ServeChildIfAsked() // see TestEntryPointRegistered
	os.Exit(gcloudemu.Main(m, gcloudemu.PubSub, gcloudemu.Firestore))
}

// testLeaseDoc is the lease document the tests use.
const testLeaseDoc = "leases/x-stream"

// testEnv is one test's world: its own project in both emulators, an events topic with a pull
// subscription, a local X server, and a clock the leases read that the test can move.
type testEnv struct {
	t       *testing.T
	project string
	ps      *pubsub.Client
	fs      *firestore.Client
	pub     *publish.Publisher
	x       *xstreamtest.Server
	offset  atomic.Int64 // added to time.Now by clock
	log     *slog.Logger
	logs    *functest.Buffer
}

const (
	testTopic = "events"
	testSub   = "events-check"
)

// newTestEnv sets up a test's world; withTopic false leaves the topic missing, so every publish fails.
func newTestEnv(t *testing.T, withTopic bool, xopts ...xstreamtest.Option) *testEnv {
	t.Helper()
	ctx := context.Background()
	e := &testEnv{t: t, project: gcloudemu.NewProjectID(t)}
	e.log, e.logs = functest.Logger()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", e.logs.String())
		}
	})
	ps, err := pubsub.NewClient(ctx, e.project)
	if err != nil {
		t.Fatalf("creating Pub/Sub client: %v", err)
	}
	t.Cleanup(func() { ps.Close() })
	e.ps = ps
	if withTopic {
		if err := publish.EnsureTopic(ctx, ps, e.project, testTopic); err != nil {
			t.Fatal(err)
		}
		if err := publish.EnsureSubscription(ctx, ps, e.project, testSub, testTopic, publish.SubscriptionOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.pub = publish.New(ps, testTopic, publish.DefaultSettings())
	t.Cleanup(e.pub.Stop)
	fs, err := firestore.NewClient(ctx, e.project)
	if err != nil {
		t.Fatalf("creating Firestore client: %v", err)
	}
	t.Cleanup(func() { fs.Close() })
	e.fs = fs
	e.x = xstreamtest.NewServer(append([]xstreamtest.Option{xstreamtest.WithLogger(e.log)}, xopts...)...)
	t.Cleanup(e.x.Close)
	return e
}

// clock is time.Now moved by advance; the leases decide expiry by it.
func (e *testEnv) clock() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }

func (e *testEnv) advance(d time.Duration) { e.offset.Add(int64(d)) }

// lease returns a handle on the test's stream lease for holder.
func (e *testEnv) lease(holder string, ttl time.Duration) FirestoreLease {
	return NewFirestoreLease(e.fs, testLeaseDoc, holder, ttl, lease.WithClock(e.clock), lease.WithLogger(e.log))
}

// testSettings are short runs: a 1.5 s read, renewals every 100 ms.
func testSettings() Settings {
	return Settings{
		Duration:     1500 * time.Millisecond,
		Margin:       100 * time.Millisecond,
		RenewEvery:   100 * time.Millisecond,
		FlushTimeout: 5 * time.Second,
		LeaseTTL:     30 * time.Second,
		LeaseWait:    -1, // a run that finds the lease held skips; the hand-over tests set it
	}
}

// streamer returns a Streamer over the test's world, reading with token.
func (e *testEnv) streamer(s Settings, token string) *Streamer {
	newClient := func(context.Context) (*xstream.Client, error) {
		c := e.x.Client()
		c.Token, c.Logger = token, e.log
		return c, nil
	}
	newLease := func(holder string) Lease { return e.lease(holder, s.LeaseTTL) }
	return NewStreamer(newClient, PubSub(e.pub), newLease, e.clock, e.log, s)
}

// call runs one request through h and decodes the answer.
func call(t *testing.T, h http.Handler) (int, Summary, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	var sum Summary
	if err := json.Unmarshal(rec.Body.Bytes(), &sum); err != nil {
		t.Fatalf("decoding answer %q: %v", rec.Body.String(), err)
	}
	return rec.Code, sum, rec.Body.String()
}

// received is a message as pulled from the subscription.
type received struct {
	Data       string
	Attributes map[string]string
}

// pull receives n messages from the test subscription, sorted by data, within 15 s.
func (e *testEnv) pull(n int) []received {
	e.t.Helper()
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var (
		mu  sync.Mutex
		out []received
	)
	err := e.ps.Subscriber(testSub).Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		m.Ack()
		mu.Lock()
		defer mu.Unlock()
		out = append(out, received{Data: string(m.Data), Attributes: m.Attributes})
		if len(out) >= n {
			cancel()
		}
	})
	if err != nil {
		e.t.Errorf("receiving from %s: %v", testSub, err)
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Data < out[j].Data })
	return out
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// logLines returns the JSON log lines whose message is msg.
func logLines(t *testing.T, logs string, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range functest.LogLines(t, logs) {
		if line["message"] == msg {
			out = append(out, line)
		}
	}
	return out
}
