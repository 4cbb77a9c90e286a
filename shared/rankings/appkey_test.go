package rankings

import (
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// TestEntryOfAppEventKey: two apps' events with one id are two entries (each counts), the
// default app's key is the one all app events had before apps existed, and no two (app, id)
// pairs share a key.
func TestEntryOfAppEventKey(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		app, id, want string
	}{
		{event.DefaultApp, "v1", "e:v1"},
		{"shop", "v1", "a:shop:v1"},
		{"blog", "v1", "a:blog:v1"},
		{event.DefaultApp, "shop:v1", "e:shop:v1"},
		{"shop", "x:y", "a:shop:x:y"},
		{"shop-x", "y", "a:shop-x:y"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		row := &event.AppEventRow{App: tt.app, EventID: tt.id, Kind: string(event.KindDetailView), ItemID: "item",
			Ingestion: event.Ingestion{MessageID: "m", PublishTime: t0}}
		e, ok := EntryOf(event.Record{Kind: event.KindDetailView, Table: event.TableAppEvents, Row: row})
		if !ok || e.Key != tt.want {
			t.Errorf("EntryOf(app %q, id %q).Key = %q (ok %v), want %q", tt.app, tt.id, e.Key, ok, tt.want)
		}
		if other, dup := seen[e.Key]; dup {
			t.Errorf("app %q id %q and %s share the key %q", tt.app, tt.id, other, e.Key)
		}
		seen[e.Key] = tt.app + "/" + tt.id
	}
}
