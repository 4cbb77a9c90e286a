package event

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/viewtoken"
)

// TestMessageBound: a message of exactly MaxMessageBytes becomes a row; one byte more is
// refused, naming data, so the loader dead-letters it with that reason.
func TestMessageBound(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	tweetOf := func(size int) []byte {
		head := `{"data":{"id":"1","text":"`
		tail := `","author_id":"2","created_at":"2026-11-21T08:00:00.000Z"}}`
		return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
	}
	if _, err := Decode(Message{ID: "m1", PublishTime: now, Data: tweetOf(MaxMessageBytes)}, now); err != nil {
		t.Errorf("Decode(tweet of exactly %d bytes) = %v, want a row", MaxMessageBytes, err)
	}
	_, err := Decode(Message{ID: "m2", PublishTime: now, Data: tweetOf(MaxMessageBytes + 1)}, now)
	inv, ok := err.(*InvalidError)
	want := fmt.Sprintf("%d bytes, over the limit of %d", MaxMessageBytes+1, MaxMessageBytes)
	if !ok || inv.Field != "data" || !strings.Contains(inv.Reason, want) {
		t.Errorf("Decode(tweet of %d bytes) = %v, want an InvalidError on data: %s", MaxMessageBytes+1, err, want)
	}
}

// TestDeadLetterDataBound: a dead letter keeps data of exactly MaxDeadLetterData whole; of one
// byte more it keeps the first MaxDeadLetterData bytes, and data_bytes says how many came.
func TestDeadLetterDataBound(t *testing.T) {
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	for _, size := range []int{MaxDeadLetterData, MaxDeadLetterData + 1} {
		data := []byte(strings.Repeat("d", size))
		row := NewDeadLetter(Message{ID: "m", PublishTime: now, Data: data}, "decode", "too big", "", now)
		if len(row.Data) != MaxDeadLetterData || row.DataBytes == nil || *row.DataBytes != int64(size) {
			t.Errorf("NewDeadLetter(%d bytes) kept %d bytes, data_bytes %v; want %d kept, data_bytes %d",
				size, len(row.Data), row.DataBytes, MaxDeadLetterData, size)
		}
	}
}

// TestAppEventFieldBounds: each bounded field of an app event at its bound is accepted, and one
// byte past is refused naming the field. The user id bound is recent views' (viewtoken's).
func TestAppEventFieldBounds(t *testing.T) {
	if MaxUserIDLen != viewtoken.MaxUserIDLen {
		t.Errorf("MaxUserIDLen = %d, viewtoken.MaxUserIDLen = %d: an accepted user could not read their views", MaxUserIDLen, viewtoken.MaxUserIDLen)
	}
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	pad := func(n int) string { return strings.Repeat("é", n/2) + strings.Repeat("a", n%2) }
	tests := []struct {
		field string
		bound int
		event func(v string) string
	}{
		{"id", maxIDLen, func(v string) string {
			return `{"kind":"search","query":"q","id":"` + strings.Repeat("i", len(v)) + `"}`
		}},
		{"query", maxQueryLen, func(v string) string { return `{"kind":"search","query":"` + v + `"}` }},
		{"user_id", MaxUserIDLen, func(v string) string { return `{"kind":"detail_view","item_id":"x","user_id":"` + v + `"}` }},
		{"session_id", MaxUserIDLen, func(v string) string { return `{"kind":"search","query":"q","session_id":"` + v + `"}` }},
		{"item_id", MaxItemIDLen, func(v string) string { return `{"kind":"detail_view","item_id":"` + v + `"}` }},
		{"app", MaxAppLen, func(v string) string {
			return `{"kind":"search","query":"q","app":"` + strings.Repeat("a", len(v)) + `"}`
		}},
	}
	for _, tc := range tests {
		if _, err := ParseAppEvent([]byte(tc.event(pad(tc.bound))), now); err != nil {
			t.Errorf("%s of %d bytes: %v, want accepted", tc.field, tc.bound, err)
		}
		_, err := ParseAppEvent([]byte(tc.event(pad(tc.bound+1))), now)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("%s of %d bytes: %v, want an InvalidError on %s", tc.field, tc.bound+1, err, tc.field)
		}
	}
}
