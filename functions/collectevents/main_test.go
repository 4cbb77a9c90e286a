package collectevents

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"

	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// frameworkChildEnv, when set to a port, makes the test binary serve the registered functions
// through the Functions Framework instead of running tests (see TestEntryPointRegistered).
const frameworkChildEnv = "COLLECTEVENTS_TEST_SERVE_PORT"

func TestMain(m *testing.M) {
	if port := os.Getenv(frameworkChildEnv); port != "" {
		if err := funcframework.StartHostPort("127.0.0.1", port); err != nil {
			fmt.Fprintf(os.Stderr, "serving functions: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(gcloudemu.Main(m, gcloudemu.PubSub, gcloudemu.Firestore))
}

// recordingPublisher records what it publishes and fails the messages of chosen event ids.
type recordingPublisher struct {
	mu    sync.Mutex
	fail  map[string]bool // by event_id attribute
	msgs  []publish.Message
	calls int
}

func (p *recordingPublisher) PublishAll(_ context.Context, msgs []publish.Message) []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	errs := make([]error, len(msgs))
	for i, m := range msgs {
		if id := m.Attributes[event.AttrEventID]; p.fail[id] {
			errs[i] = fmt.Errorf("publishing %s: injected failure", id)
			continue
		}
		p.msgs = append(p.msgs, m)
	}
	return errs
}

// take returns the messages published since the last take.
func (p *recordingPublisher) take() []publish.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.msgs
	p.msgs = nil
	return out
}

// newFirestore returns a client of the Firestore emulator in a project of the test's own.
func newFirestore(t *testing.T) *firestore.Client {
	t.Helper()
	fs, err := firestore.NewClient(context.Background(), gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatalf("creating Firestore client: %v", err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

// testLogger returns a logger writing Cloud Logging JSON into a buffer.
func testLogger() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return logging.New(&buf, slog.LevelDebug), &buf
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
