package warehouse

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
)

func TestEncodeEveryTable(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	n := int64(7)
	rows := map[string]any{
		event.TableTweets: &event.TweetRow{EventTime: now, TweetID: "9007199254740993", Kind: "tweet", Hashtags: []string{"a", "b"},
			MatchingRules: []event.MatchingRule{{ID: "1", Tag: "t"}}, Ingestion: event.Ingestion{MessageID: "m", PublishTime: now, Source: "s", IngestedAt: now, SchemaVersion: "1"}},
		event.TableStreamEvents: &event.StreamEventRow{EventTime: now, Kind: "limit", TrackLimit: &n, Ingestion: event.Ingestion{MessageID: "m", PublishTime: now, Source: "s", IngestedAt: now, SchemaVersion: "1"}},
		event.TableAppEvents:    &event.AppEventRow{EventTime: now, EventID: "e", Kind: "search", Ingestion: event.Ingestion{MessageID: "m", PublishTime: now, Source: "s", IngestedAt: now, SchemaVersion: "1"}},
		event.TableDeadLetters:  event.NewDeadLetter(event.Message{ID: "m", Data: []byte{0xff}, Attributes: map[string]string{"k": "v"}}, event.StageDecode, "bad", "", now),
	}
	want := map[string]string{
		event.TableTweets:       `{"event_time":"1795338000000000","tweet_id":"9007199254740993","kind":"tweet","hashtags":["a","b"],"matching_rules":[{"id":"1","tag":"t"}],"message_id":"m","publish_time":"1795338000000000","source":"s","ingested_at":"1795338000000000","schema_version":"1"}`,
		event.TableStreamEvents: `{"event_time":"1795338000000000","kind":"limit","track_limit":"7","message_id":"m","publish_time":"1795338000000000","source":"s","ingested_at":"1795338000000000","schema_version":"1"}`,
		event.TableAppEvents:    `{"event_time":"1795338000000000","event_id":"e","kind":"search","message_id":"m","publish_time":"1795338000000000","source":"s","ingested_at":"1795338000000000","schema_version":"1"}`,
		event.TableDeadLetters:  `{"dead_lettered_at":"1795338000000000","message_id":"m","stage":"decode","reason":"bad","kind":"unclassified","attributes":[{"key":"k","value":"v"}],"data":"/w==","data_bytes":"1"}`,
	}
	for _, table := range event.Tables {
		js, err := schemas.Table(table)
		if err != nil {
			t.Fatal(err)
		}
		md, _, err := Descriptor(js)
		if err != nil {
			t.Fatalf("Descriptor(%s): %v", table, err)
		}
		b, err := Encode(md, event.Values(rows[table]))
		if err != nil {
			t.Fatalf("Encode(%s): %v", table, err)
		}
		m := dynamicpb.NewMessage(md)
		if err := proto.Unmarshal(b, m); err != nil {
			t.Fatal(err)
		}
		got, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
		// protojson's spacing is not stable; compare as normalized JSON.
		if diff := cmp.Diff(normJSON(t, want[table]), normJSON(t, string(got))); diff != "" {
			t.Errorf("Encode(%s) mismatch (-want +got):\n%s", table, diff)
		}
	}
}

func TestEncodeErrorsNameTheColumn(t *testing.T) {
	js, _ := schemas.Table(event.TableTweets)
	md, _, err := Descriptor(js)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		row  map[string]any
		want string
	}{
		{map[string]any{"nope": "x"}, "column nope: no such column"},
		{map[string]any{"tweet_id": 5}, "column tweet_id: cannot write a int"},
		{map[string]any{"hashtags": "x"}, "column hashtags: REPEATED column needs a list"},
		{map[string]any{"matching_rules": []any{map[string]any{"idx": "1"}}}, "column matching_rules[0].idx: no such column"},
	}
	for _, tt := range tests {
		_, err := Encode(md, tt.row)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Encode(%v) error = %v, want it to contain %q", tt.row, err, tt.want)
		}
	}
}

func normJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return v
}
