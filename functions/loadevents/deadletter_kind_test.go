package loadevents

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDeadLetterKindAndType: a dead letter's kind column holds the message's kind attribute or
// "unclassified", never NULL, and an X message the contract does not model is named by its type.
func TestDeadLetterKindAndType(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		id    string
		data  string
		attrs map[string]string
		want  map[string]any
	}{
		{"dl-friends", `{"friends":[1497,169686021]}`, map[string]string{"kind": "unclassified", "source": "x_stream"},
			map[string]any{"kind": "unclassified", "reason": `data: unmodelled X message type "friends": an X stream message the event contract does not model`}},
		{"dl-follow", `{"event":"follow","source":{"id_str":"1"}}`, nil,
			map[string]any{"kind": "unclassified", "reason": `data: unmodelled X message type "event:follow": an X stream message the event contract does not model`}},
		{"dl-tweet-attr", `{"data":{"text":"no id"}}`, map[string]string{"kind": "tweet"},
			map[string]any{"kind": "tweet", "reason": "data: tweet has no id"}},
	}
	for _, tt := range tests {
		if code := e.deliver(t, tt.id, []byte(tt.data), tt.attrs); code/100 != 2 {
			t.Errorf("deliver(%s) = %d, want 2xx (acknowledged)", tt.id, code)
		}
	}
	rows := e.query(t, "SELECT message_id, kind, reason FROM `DS.dead_letters`")
	byID := map[string]map[string]any{}
	for _, r := range rows {
		id := r["message_id"].(string)
		delete(r, "message_id")
		byID[id] = r
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, byID[tt.id]); diff != "" {
			t.Errorf("dead letter of %s mismatch (-want +got):\n%s", tt.id, diff)
		}
	}
}
