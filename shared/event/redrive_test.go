package event

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFirstDelivery(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	first := time.Date(2026, 12, 1, 8, 30, 0, 123456789, time.UTC)
	tests := []struct {
		name    string
		attrs   map[string]string
		wantID  string
		wantPT  time.Time
		wantErr bool
	}{
		{"not redriven", map[string]string{AttrKind: "search"}, "new", now, false},
		{"redriven", map[string]string{AttrRedriveOf: "orig", AttrRedrivePublishTime: first.Format(time.RFC3339Nano), AttrRedriveID: "rd-1"}, "orig", first, false},
		{"redrive id alone is not a redrive of anything", map[string]string{AttrRedriveID: "rd-1"}, "new", now, false},
		{"of without publish time", map[string]string{AttrRedriveOf: "orig"}, "", time.Time{}, true},
		{"publish time without of", map[string]string{AttrRedrivePublishTime: first.Format(time.RFC3339Nano)}, "", time.Time{}, true},
		{"empty of", map[string]string{AttrRedriveOf: "", AttrRedrivePublishTime: first.Format(time.RFC3339Nano)}, "", time.Time{}, true},
		{"publish time not RFC 3339", map[string]string{AttrRedriveOf: "orig", AttrRedrivePublishTime: "yesterday"}, "", time.Time{}, true},
		{"zero publish time", map[string]string{AttrRedriveOf: "orig", AttrRedrivePublishTime: "0001-01-01T00:00:00Z"}, "", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, pt, err := FirstDelivery(Message{ID: "new", PublishTime: now, Attributes: tt.attrs})
			var inv *InvalidError
			if tt.wantErr != (err != nil) || (err != nil && !errors.As(err, &inv)) {
				t.Fatalf("FirstDelivery() error = %v, want an *InvalidError: %v", err, tt.wantErr)
			}
			if id != tt.wantID || !pt.Equal(tt.wantPT) {
				t.Errorf("FirstDelivery() = %s, %s, want %s, %s", id, pt, tt.wantID, tt.wantPT)
			}
		})
	}
}

// TestDecodeRedrivenAsFirstDelivery: a message republished by a redrive, with a new Pub/Sub id
// and publish time, decodes to the row of its first delivery (ingested_at aside), so every
// dedup key (tweet_id; app and event_id, "msg:<id>" without one; message_id) is the same.
func TestDecodeRedrivenAsFirstDelivery(t *testing.T) {
	first := time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, data := range []string{`{"kind":"search","query":"shoes"}`, `{"limit":{"track":7}}`, v1TweetJSON} {
		orig := Message{ID: "orig-1", PublishTime: first, Data: []byte(data), Attributes: map[string]string{AttrSource: "app"}}
		redriven := Message{ID: "new-9", PublishTime: now, Data: []byte(data), Attributes: map[string]string{
			AttrSource: "app", AttrRedriveOf: "orig-1", AttrRedrivePublishTime: first.Format(time.RFC3339Nano), AttrRedriveID: "rd-x"}}
		want, err := Decode(orig, now)
		if err != nil {
			t.Fatalf("Decode(%s): %v", data, err)
		}
		got, err := Decode(redriven, now)
		if err != nil {
			t.Fatalf("Decode(redriven %s): %v", data, err)
		}
		if diff := cmp.Diff(Values(want.Row), Values(got.Row)); diff != "" {
			t.Errorf("redriven %s row differs from its first delivery's (-first +redriven):\n%s", data, diff)
		}
	}
}

// FuzzFirstDelivery: no attribute values make FirstDelivery panic; every error is an
// *InvalidError (the loader dead-letters, never retries), and a success names an id.
func FuzzFirstDelivery(f *testing.F) {
	f.Add("orig", "2026-12-01T08:30:00.123456789Z", true)
	f.Add("", "2026-12-01T08:30:00Z", true)
	f.Add("orig", "yesterday", true)
	f.Add("x", "", false)
	f.Fuzz(func(t *testing.T, of, pt string, both bool) {
		attrs := map[string]string{AttrRedriveOf: of}
		if both {
			attrs[AttrRedrivePublishTime] = pt
		}
		id, _, err := FirstDelivery(Message{ID: "m", Attributes: attrs})
		var inv *InvalidError
		if err != nil && !errors.As(err, &inv) {
			t.Fatalf("FirstDelivery(%q, %q) error %v is not an *InvalidError", of, pt, err)
		}
		if err == nil && id == "" {
			t.Fatalf("FirstDelivery(%q, %q) = an empty id", of, pt)
		}
	})
}
