package collectevents

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

func TestFirestoreDeduper(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var many []string
	for i := range 2*getAllChunk + 7 {
		many = append(many, fmt.Sprintf("bulk-%d", i))
	}
	tests := []struct {
		name     string
		mark     []string
		markAt   time.Time
		ask      []string
		askAt    time.Time
		wantSeen []string
	}{
		{name: "marked ids are seen, others not", mark: []string{"a", "b/with/slashes", "ü"}, markAt: t0,
			ask: []string{"a", "b/with/slashes", "ü", "c"}, askAt: t0.Add(30 * time.Minute), wantSeen: []string{"a", "b/with/slashes", "ü"}},
		{name: "an entry is not seen from its expiry on", mark: []string{"a"}, markAt: t0,
			ask: []string{"a"}, askAt: t0.Add(time.Hour)},
		{name: "entry seen until it expires", mark: []string{"a"}, markAt: t0,
			ask: []string{"a"}, askAt: t0.Add(time.Hour - time.Nanosecond), wantSeen: []string{"a"}},
		{name: "more ids than one read", mark: many[:getAllChunk+3], markAt: t0,
			ask: many, askAt: t0, wantSeen: many[:getAllChunk+3]},
		{name: "nothing asked", mark: []string{"a"}, markAt: t0, askAt: t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewFirestoreDeduper(newFirestore(t), "seen", time.Hour)
			if err := d.Mark(ctx, tt.mark, tt.markAt); err != nil {
				t.Fatalf("Mark(%d ids) = %v", len(tt.mark), err)
			}
			seen, err := d.Seen(ctx, tt.ask, tt.askAt)
			if err != nil {
				t.Fatalf("Seen(%d ids) = %v", len(tt.ask), err)
			}
			want := map[string]bool{}
			for _, id := range tt.wantSeen {
				want[id] = true
			}
			if diff := cmp.Diff(want, seen); diff != "" {
				t.Errorf("Seen() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFirestoreDeduperDocument(t *testing.T) {
	ctx := context.Background()
	fs := newFirestore(t)
	d := NewFirestoreDeduper(fs, "collect_events_seen", 24*time.Hour)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := d.Mark(ctx, []string{"evt/1"}, at); err != nil {
		t.Fatalf("Mark() = %v", err)
	}
	// The id's slash must not become a path separator: the document is named by the id's hash.
	doc := "collect_events_seen/" + docID("evt/1")
	snap, err := fs.Doc(doc).Get(ctx)
	if err != nil {
		t.Fatalf("reading the marked document: %v", err)
	}
	want := map[string]any{"event_id": "evt/1", "seen_at": at, ExpiresAtField: at.Add(24 * time.Hour)}
	if diff := cmp.Diff(want, snap.Data()); diff != "" {
		t.Errorf("document %s mismatch (-want +got):\n%s", doc, diff)
	}
}

func TestDocID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		if got := docID(tt.id); got != tt.want {
			t.Errorf("docID(%q) = %s, want %s", tt.id, got, tt.want)
		}
	}
}

// A Firestore outage must not drop events: they are published anyway, with a warning.
func TestCollectorPublishesWhenFirestoreFails(t *testing.T) {
	fs := newFirestore(t)
	if err := fs.Close(); err != nil {
		t.Fatalf("closing Firestore client: %v", err)
	}
	pub := &recordingPublisher{}
	logger, logs := functest.Logger()
	c := NewCollector(pub, NewFirestoreDeduper(fs, "seen", time.Hour), nil, logger, Limits{})
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("["+search1+","+view1+"]"))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)

	if rec.Code != http.StatusOK {
		t.Errorf("status = %d, want %d; body %s", rec.Code, http.StatusOK, rec.Body)
	}
	want := []publish.Message{msg(search1, "search", "s1"), msg(view1, "detail_view", "v1")}
	if diff := cmp.Diff(want, pub.take()); diff != "" {
		t.Errorf("published messages mismatch (-want +got):\n%s", diff)
	}
	for _, line := range []string{"reading seen event ids", "marking published event ids seen"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("logs lack a warning %q:\n%s", line, logs)
		}
	}
}
