package event

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeRows(t *testing.T) {
	pub := time.Date(2026, 11, 22, 9, 0, 0, 123456789, time.UTC)
	now := pub.Add(time.Second)
	pubUS := pub.Truncate(time.Microsecond)
	ing := map[string]any{"message_id": "m1", "publish_time": pubUS, "source": "replay", "ingested_at": now.Truncate(time.Microsecond), "schema_version": SchemaVersion}
	with := func(m map[string]any) map[string]any {
		for k, v := range ing {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name      string
		data      string
		wantTable string
		want      map[string]any
	}{
		{"v2 reply without created_at falls back to publish time", v2Note, TableTweets, with(map[string]any{
			"event_time": pubUS, "tweet_id": "1600000000000000001", "kind": "reply", "text": "the whole long post", "lang": "de",
			"referenced_tweet_id": "1600000000000000000", "replied_to_tweet_id": "1600000000000000000", "api_version": "2", "raw": v2Note,
			"matching_rules": []any{map[string]any{"id": "1600", "tag": "german"}},
		})},
		{"reply that quotes keeps both links", v2ReplyQuote, TableTweets, with(map[string]any{
			"event_time": pubUS, "tweet_id": "1600000000000000003", "kind": "quote", "author_id": "7", "text": "@x look", "lang": "en",
			"referenced_tweet_id": "1600000000000000010", "quoted_tweet_id": "1600000000000000010",
			"replied_to_tweet_id": "1600000000000000000", "replied_to_user_id": "6", "api_version": "2", "raw": v2ReplyQuote,
		})},
		{"limit keeps a zero-free count", `{"limit":{"track":121564,"timestamp_ms":"1482242573699"}}`, TableStreamEvents, with(map[string]any{
			"event_time": time.UnixMilli(1482242573699).UTC(), "kind": "limit", "track_limit": int64(121564), "api_version": "1.1",
			"raw": `{"limit":{"track":121564,"timestamp_ms":"1482242573699"}}`,
		})},
		{"search event", `{"id":"e1","kind":"search","time":"2026-11-22T08:00:00Z","user_id":"u1","query":"red shoes","results_count":0,"properties":{"ab":"b"}}`, TableAppEvents, with(map[string]any{
			"event_time": time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), "app": "default", "event_id": "e1", "kind": "search", "name": "search", "user_id": "u1",
			"query": "red shoes", "results_count": int64(0), "properties": `{"ab":"b"}`,
			"raw": `{"id":"e1","kind":"search","time":"2026-11-22T08:00:00Z","user_id":"u1","query":"red shoes","results_count":0,"properties":{"ab":"b"}}`,
		})},
		{"unknown app kind is other, keyed by message id", `{"kind":"add_to_cart","item_id":"sku-1"}`, TableAppEvents, with(map[string]any{
			"event_time": pubUS, "app": "default", "event_id": "msg:m1", "kind": "other", "name": "add_to_cart", "item_id": "sku-1",
			"raw": `{"kind":"add_to_cart","item_id":"sku-1"}`,
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Decode(Message{ID: "m1", PublishTime: pub, Data: []byte(tt.data), Attributes: map[string]string{AttrSource: "replay"}}, now)
			if err != nil {
				t.Fatalf("Decode() error = %v", err)
			}
			if rec.Table != tt.wantTable {
				t.Errorf("Decode().Table = %q, want %q", rec.Table, tt.wantTable)
			}
			if diff := cmp.Diff(tt.want, Values(rec.Row)); diff != "" {
				t.Errorf("Decode() row mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeBadInput: every message that can never load gives an InvalidError with a reason.
func TestDecodeBadInput(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name, data, wantReason string
	}{
		{"empty", "", "empty message data"},
		{"blank", " \n", "empty message data"},
		{"invalid UTF-8", "{\"kind\":\"search\",\"query\":\"\xff\"}", "not valid UTF-8"},
		{"not JSON", "hello", "not JSON"},
		{"JSON array", `[1,2]`, "not a JSON object"},
		{"cut off", `{"data":{"id":"1","text":"hal`, "not JSON"},
		{"unknown kind", `{"foo":"bar"}`, `unknown kind: a JSON object that is neither an X stream message nor an app event (top-level keys: "foo")`},
		{"empty object", `{}`, "unknown kind: a JSON object that is neither an X stream message nor an app event (top-level keys: none)"},
		{"user-stream friends", `{"friends":[1497,169686021]}`, `unmodelled X message type "friends": an X stream message the event contract does not model`},
		{"user-stream direct message", `{"direct_message":{"id_str":"1"}}`, `unmodelled X message type "direct_message"`},
		{"user-stream follow", `{"event":"follow","source":{"id_str":"1"}}`, `unmodelled X message type "event:follow"`},
		{"search without query", `{"kind":"search"}`, "query: required"},
		{"detail view without item", `{"kind":"detail_view"}`, "item_id: required"},
		{"bad app kind", `{"kind":"Bad Kind"}`, "kind: must match"},
		{"misspelt field", `{"kind":"search","querry":"x"}`, "querry: unknown field"},
		{"wrong type", `{"kind":"search","query":"x","results_count":"many"}`, "results_count: must be a int64"},
		{"bad time", `{"kind":"search","query":"x","time":"yesterday"}`, "time: must be an RFC 3339"},
		{"future time", `{"kind":"search","query":"x","time":"2030-01-01T00:00:00Z"}`, "time: 2030-01-01T00:00:00Z is more than"},
		{"properties not object", `{"kind":"search","query":"x","properties":[1]}`, "properties: must be a JSON object"},
		{"tweet without id", `{"data":{"text":"x"}}`, "tweet has no id"},
		{"too big", `{"kind":"search","query":"` + strings.Repeat("a", MaxMessageBytes) + `"}`, "over the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(Message{ID: "m1", PublishTime: now, Data: []byte(tt.data)}, now)
			var inv *InvalidError
			if !errors.As(err, &inv) {
				t.Fatalf("Decode(%.60q) error = %v, want an *InvalidError", tt.data, err)
			}
			if !strings.Contains(err.Error(), tt.wantReason) {
				t.Errorf("Decode(%.60q) error = %q, want it to contain %q", tt.data, err, tt.wantReason)
			}
		})
	}
}

func TestDecodeNeedsMessageIdentity(t *testing.T) {
	now := time.Now()
	if _, err := Decode(Message{PublishTime: now, Data: []byte(v1TweetJSON)}, now); err == nil || !strings.Contains(err.Error(), "message_id") {
		t.Errorf("Decode(no id) error = %v, want message_id required", err)
	}
}

func TestNewDeadLetterKeepsEverything(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	m := Message{ID: "m9", PublishTime: now.Add(-time.Minute), Data: []byte{0xff, 0x00}, Subscription: "projects/p/subscriptions/s", DeliveryAttempt: 3,
		Attributes: map[string]string{AttrSource: "app", AttrKind: "search"}}
	got := Values(NewDeadLetter(m, StageDecode, "data: not valid UTF-8", KindSearch, now))
	want := map[string]any{
		"dead_lettered_at": now, "message_id": "m9", "publish_time": now.Add(-time.Minute), "subscription": "projects/p/subscriptions/s",
		"delivery_attempt": int64(3), "stage": "decode", "reason": "data: not valid UTF-8", "kind": "search", "source": "app",
		"attributes": []any{map[string]any{"key": "kind", "value": "search"}, map[string]any{"key": "source", "value": "app"}},
		"data":       []byte{0xff, 0x00}, "data_bytes": int64(2),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewDeadLetter() mismatch (-want +got):\n%s", diff)
	}
}

// TestNewDeadLetterKind: the kind column is never NULL.
func TestNewDeadLetterKind(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		attrs map[string]string
		kind  Kind
		want  string
	}{
		{"decoded kind wins", map[string]string{AttrKind: "tweet"}, KindReply, "reply"},
		{"attribute's kind", map[string]string{AttrKind: "quote"}, "", "quote"},
		{"unclassified attribute", map[string]string{AttrKind: Unclassified}, "", Unclassified},
		{"no attribute", nil, "", Unclassified},
	}
	for _, tt := range tests {
		row := NewDeadLetter(Message{ID: "m", Data: []byte("x"), Attributes: tt.attrs}, StageDecode, "r", tt.kind, now)
		if row.Kind != tt.want {
			t.Errorf("%s: NewDeadLetter().Kind = %q, want %q", tt.name, row.Kind, tt.want)
		}
	}
}

func TestXAttributes(t *testing.T) {
	_, got, err := XAttributes([]byte(v2Quote), SourceXStream)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"kind": "quote", "source": "x_stream", "lang": "en", "schema_version": SchemaVersion, "event_id": "1377650090978992134"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("XAttributes() mismatch (-want +got):\n%s", diff)
	}
}
