package redrive

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

var (
	published = time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC)
	deadAt    = time.Date(2026, 12, 1, 8, 30, 1, 0, time.UTC)
)

func deadLetter(id string, data string, attrs ...string) *event.DeadLetterRow {
	n := int64(len(data))
	dl := &event.DeadLetterRow{DeadLetteredAt: deadAt, MessageID: id, PublishTime: published, Stage: event.StageAppend,
		Reason: "app_events refused 1 row(s): row 0: missing required column user_id", Kind: "search", Data: []byte(data), DataBytes: &n}
	for i := 0; i+1 < len(attrs); i += 2 {
		dl.Attributes = append(dl.Attributes, event.Attribute{Key: attrs[i], Value: attrs[i+1]})
	}
	return dl
}

func withAttrs(n int) *event.DeadLetterRow {
	dl := deadLetter("m1", `{"kind":"search"}`)
	for i := range n {
		dl.Attributes = append(dl.Attributes, event.Attribute{Key: fmt.Sprintf("a%03d", i), Value: "v"})
	}
	return dl
}

func TestPlan(t *testing.T) {
	pt := published.Format(time.RFC3339Nano)
	truncated := deadLetter("m1", "abc")
	*truncated.DataBytes = 4
	whole := deadLetter("m1", "abc")
	*whole.DataBytes = 3
	noSize := deadLetter("m1", "abc")
	noSize.DataBytes = nil
	noPT := deadLetter("m1", "abc")
	noPT.PublishTime = time.Time{}
	tests := []struct {
		name      string
		dl        *event.DeadLetterRow
		wantAttrs map[string]string
		wantOrig  string
		wantSkip  string
	}{
		{"first dead letter", deadLetter("m1", "{}", "kind", "search", "source", "app"),
			map[string]string{"kind": "search", "source": "app", event.AttrRedriveOf: "m1", event.AttrRedrivePublishTime: pt, event.AttrRedriveID: "rd-1"}, "m1", ""},
		{"a redriven message dead-lettered again keeps its first delivery",
			deadLetter("m2", "{}", "kind", "search", event.AttrRedriveOf, "m0", event.AttrRedrivePublishTime, "2026-11-30T00:00:00Z", event.AttrRedriveID, "rd-0"),
			map[string]string{"kind": "search", event.AttrRedriveOf: "m0", event.AttrRedrivePublishTime: "2026-11-30T00:00:00Z", event.AttrRedriveID: "rd-1"}, "m0", ""},
		{"data kept whole (data_bytes = kept bytes)", whole, map[string]string{event.AttrRedriveOf: "m1", event.AttrRedrivePublishTime: pt, event.AttrRedriveID: "rd-1"}, "m1", ""},
		{"no data_bytes", noSize, map[string]string{event.AttrRedriveOf: "m1", event.AttrRedrivePublishTime: pt, event.AttrRedriveID: "rd-1"}, "m1", ""},
		{"data truncated (data_bytes one past the kept bytes)", truncated, nil, "", "data truncated: the dead letter kept 3 of its 4 bytes"},
		{"no message id", deadLetter("", "{}"), nil, "", "no message id: it could not be marked as redriven"},
		{"no publish time", noPT, nil, "", "no publish time: the loaded row's publish_time would be unknown"},
		{"push envelope", deadLetter("e1", "{}", "ce-type", "google.cloud.pubsub.topic.v1.messagePublished"), nil, "",
			"its push envelope never decoded: the data is a CloudEvent's, not a Pub/Sub message's"},
		{"invalid redrive attributes", deadLetter("m1", "{}", event.AttrRedriveOf, "m0"), nil, "",
			"its redrive attributes are invalid: attributes: redrive_publish_time is missing beside redrive_of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, skip := Plan(tt.dl, "rd-1")
			if skip != tt.wantSkip {
				t.Fatalf("Plan() skip = %q, want %q", skip, tt.wantSkip)
			}
			if skip != "" {
				return
			}
			if diff := cmp.Diff(tt.wantAttrs, p.Attributes); diff != "" {
				t.Errorf("Plan() attributes (-want +got):\n%s", diff)
			}
			if p.OriginalMessageID != tt.wantOrig || string(p.Data) != string(tt.dl.Data) || p.MessageID != tt.dl.MessageID {
				t.Errorf("Plan() = original %s, data %q, message %s; want %s, %q, %s", p.OriginalMessageID, p.Data, p.MessageID, tt.wantOrig, tt.dl.Data, tt.dl.MessageID)
			}
		})
	}
}

// TestPlanAttributeBound: the redrive adds 3 attributes; 97 original ones make Pub/Sub's 100,
// 98 one past.
func TestPlanAttributeBound(t *testing.T) {
	extra := len(event.RedriveAttributes)
	if _, skip := Plan(withAttrs(MaxAttributes-extra), "rd-1"); skip != "" {
		t.Errorf("Plan(%d attributes) skipped: %s", MaxAttributes-extra, skip)
	}
	_, skip := Plan(withAttrs(MaxAttributes-extra+1), "rd-1")
	if want := "101 attributes with the redrive's, over Pub/Sub's 100"; skip != want {
		t.Errorf("Plan(%d attributes) skip = %q, want %q", MaxAttributes-extra+1, skip, want)
	}
}
