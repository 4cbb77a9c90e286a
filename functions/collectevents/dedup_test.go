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

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// keys returns the keys of ids in app.
func keys(app string, ids ...string) []Key {
	out := make([]Key, len(ids))
	for i, id := range ids {
		out[i] = Key{App: app, ID: id}
	}
	return out
}

func TestFirestoreDeduper(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var many []string
	for i := range 2*getAllChunk + 7 {
		many = append(many, fmt.Sprintf("bulk-%d", i))
	}
	const def = event.DefaultApp
	tests := []struct {
		name     string
		mark     []Key
		markAt   time.Time
		ask      []Key
		askAt    time.Time
		wantSeen []Key
	}{
		{name: "marked ids are seen, others not", mark: keys(def, "a", "b/with/slashes", "ü"), markAt: t0,
			ask: keys(def, "a", "b/with/slashes", "ü", "c"), askAt: t0.Add(30 * time.Minute), wantSeen: keys(def, "a", "b/with/slashes", "ü")},
		{name: "an entry is not seen from its expiry on", mark: keys(def, "a"), markAt: t0,
			ask: keys(def, "a"), askAt: t0.Add(time.Hour)},
		{name: "entry seen until it expires", mark: keys(def, "a"), markAt: t0,
			ask: keys(def, "a"), askAt: t0.Add(time.Hour - time.Nanosecond), wantSeen: keys(def, "a")},
		{name: "more ids than one read", mark: keys(def, many[:getAllChunk+3]...), markAt: t0,
			ask: keys(def, many...), askAt: t0, wantSeen: keys(def, many[:getAllChunk+3]...)},
		{name: "nothing asked", mark: keys(def, "a"), markAt: t0, askAt: t0},
		// One app's ids never hide another's, whichever way round, the default app included.
		{name: "an id marked in one app is unseen in others", mark: append(keys("shop", "s1"), keys(def, "d1")...), markAt: t0,
			ask: append(append(keys("shop", "s1", "d1"), keys("blog", "s1", "d1")...), keys(def, "s1", "d1")...), askAt: t0,
			wantSeen: append(keys("shop", "s1"), keys(def, "d1")...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewFirestoreDeduper(newFirestore(t), "seen", time.Hour)
			if err := d.Mark(ctx, tt.mark, tt.markAt); err != nil {
				t.Fatalf("Mark(%d keys) = %v", len(tt.mark), err)
			}
			seen, err := d.Seen(ctx, tt.ask, tt.askAt)
			if err != nil {
				t.Fatalf("Seen(%d keys) = %v", len(tt.ask), err)
			}
			want := map[Key]bool{}
			for _, k := range tt.wantSeen {
				want[k] = true
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
	tests := []struct {
		key  Key
		doc  string
		want map[string]any
	}{
		// The id's slash must not become a path separator: the document is named by the id's
		// hash. The default app's document is named and filled as before apps existed.
		{key: Key{App: event.DefaultApp, ID: "evt/1"}, doc: docID(Key{App: event.DefaultApp, ID: "evt/1"}),
			want: map[string]any{"event_id": "evt/1", "seen_at": at, ExpiresAtField: at.Add(24 * time.Hour)}},
		{key: Key{App: "shop", ID: "evt/1"}, doc: "shop." + docID(Key{App: event.DefaultApp, ID: "evt/1"}),
			want: map[string]any{"app": "shop", "event_id": "evt/1", "seen_at": at, ExpiresAtField: at.Add(24 * time.Hour)}},
	}
	for _, tt := range tests {
		if err := d.Mark(ctx, []Key{tt.key}, at); err != nil {
			t.Fatalf("Mark(%v) = %v", tt.key, err)
		}
		snap, err := fs.Doc("collect_events_seen/" + tt.doc).Get(ctx)
		if err != nil {
			t.Fatalf("reading the marked document of %v: %v", tt.key, err)
		}
		if diff := cmp.Diff(tt.want, snap.Data()); diff != "" {
			t.Errorf("document %s mismatch (-want +got):\n%s", tt.doc, diff)
		}
	}
}

func TestDocID(t *testing.T) {
	tests := []struct {
		key  Key
		want string
	}{
		{Key{event.DefaultApp, ""}, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{Key{event.DefaultApp, "abc"}, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{Key{"shop", "abc"}, "shop.ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		if got := docID(tt.key); got != tt.want {
			t.Errorf("docID(%v) = %s, want %s", tt.key, got, tt.want)
		}
	}
}

// FuzzDocID: two different (app, id) pairs never get one document id, and every document id is
// one Firestore accepts (at most 1,500 bytes, no "/", not "." or "..", not __.*__:
// https://firebase.google.com/docs/firestore/quotas#collections_documents_and_fields).
func FuzzDocID(f *testing.F) {
	f.Add("shop", "abc", "default", "abc")
	f.Add("a", "b.c", "a-b", "c")
	f.Fuzz(func(t *testing.T, app1, id1, app2, id2 string) {
		k1, k2 := Key{app1, id1}, Key{app2, id2}
		for _, k := range []Key{k1, k2} {
			if event.ValidApp(k.App) != nil {
				return
			}
		}
		d1, d2 := docID(k1), docID(k2)
		if k1 != k2 && d1 == d2 {
			t.Fatalf("docID(%v) = docID(%v) = %s", k1, k2, d1)
		}
		if len(d1) > 1500 || strings.Contains(d1, "/") || d1 == "." || d1 == ".." || (strings.HasPrefix(d1, "__") && strings.HasSuffix(d1, "__")) {
			t.Fatalf("docID(%v) = %q, not a valid Firestore document id", k1, d1)
		}
	})
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
