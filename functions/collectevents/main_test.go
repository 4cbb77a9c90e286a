package collectevents

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

func TestMain(m *testing.M) {
	functest.ServeChildIfAsked() // see TestEntryPointRegistered
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
