package localstack

import (
	"encoding/json"
	"testing"
	"time"
)

// TestFreshTweet: a replayed line becomes a new tweet (a fresh, rising id and created_at now)
// with its text and hashtags kept; a line without a tweet is skipped.
func TestFreshTweet(t *testing.T) {
	line := []byte(`{"data":{"id":"1860000000000000000","text":"hi #gcp","created_at":"2026-11-21T08:00:00.000Z","entities":{"hashtags":[{"tag":"gcp"}]}}}`)
	now := time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC)
	var ids []string
	for range 3 {
		b, ok := FreshTweet(line, now) // the same instant: ids must still differ
		if !ok {
			t.Fatalf("FreshTweet(%s) = false", line)
		}
		var m struct {
			Data struct {
				ID, Text  string
				CreatedAt string `json:"created_at"`
				Entities  struct{ Hashtags []struct{ Tag string } }
			}
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Data.Text != "hi #gcp" || m.Data.CreatedAt != now.Format(time.RFC3339Nano) || len(m.Data.Entities.Hashtags) != 1 {
			t.Errorf("FreshTweet = %s, want the same tweet created now", b)
		}
		ids = append(ids, m.Data.ID)
	}
	// Rising, and after the captured tweet's id (X's ids are snowflakes of their time).
	if !("1860000000000000000" < ids[0] && len(ids[0]) == len(ids[2]) && ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Errorf("fresh ids %v, want new ids rising after the captured one", ids)
	}
	for _, l := range []string{`{"delete":{"status":{"id_str":"1"}}}`, `not json`, `[]`} {
		if _, ok := FreshTweet([]byte(l), now); ok {
			t.Errorf("FreshTweet(%s) = true, want it skipped", l)
		}
	}
}
