package redrive

import (
	"fmt"
	"sort"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// MaxAttributes is how many attributes a Pub/Sub message may carry: "when the number of
// attributes is larger than 100, the number of attributes is truncated to 100 to respect the
// limit on the attribute count" (https://cloud.google.com/pubsub/quotas#resource_limits). A dead
// letter whose attributes leave no room for the redrive's is skipped, not cut.
const MaxAttributes = 100

// envelopeAttr marks a dead letter whose push envelope never decoded: the loader keeps the
// whole CloudEvent data under the CloudEvent's type (functions/loadevents), which is no message
// to send again.
const envelopeAttr = "ce-type"

// Planned is one dead letter as a redrive sends it.
type Planned struct {
	MessageID         string            `json:"message_id"`
	OriginalMessageID string            `json:"original_message_id"`
	DeadLetteredAt    time.Time         `json:"dead_lettered_at"`
	Stage             string            `json:"stage"`
	Kind              string            `json:"kind"`
	Reason            string            `json:"reason"`
	DataBytes         int               `json:"data_bytes"`
	Attributes        map[string]string `json:"attributes"`
	Data              []byte            `json:"-"`
}

// Skipped is a selected dead letter a redrive cannot send, and why.
type Skipped struct {
	MessageID string `json:"message_id"`
	Reason    string `json:"reason"`
}

// Plan turns a dead letter into the message a redrive publishes, or says why it cannot be sent
// whole. The message carries the original data and attributes, minus any earlier redrive's
// attributes, plus this redrive's: the first delivery's id and publish time (those of a dead
// letter that was itself redriven come from its attributes) and redriveID.
func Plan(dl *event.DeadLetterRow, redriveID string) (Planned, string) {
	if dl.MessageID == "" {
		return Planned{}, "no message id: it could not be marked as redriven"
	}
	if dl.DataBytes != nil && *dl.DataBytes > int64(len(dl.Data)) {
		return Planned{}, fmt.Sprintf("data truncated: the dead letter kept %d of its %d bytes", len(dl.Data), *dl.DataBytes)
	}
	attrs := make(map[string]string, len(dl.Attributes)+len(event.RedriveAttributes))
	for _, a := range dl.Attributes {
		attrs[a.Key] = a.Value
	}
	if _, ok := attrs[envelopeAttr]; ok {
		return Planned{}, "its push envelope never decoded: the data is a CloudEvent's, not a Pub/Sub message's"
	}
	id, published, err := event.FirstDelivery(event.Message{ID: dl.MessageID, PublishTime: dl.PublishTime, Attributes: attrs})
	if err != nil {
		return Planned{}, fmt.Sprintf("its redrive attributes are invalid: %v", err)
	}
	if published.IsZero() {
		return Planned{}, "no publish time: the loaded row's publish_time would be unknown"
	}
	for _, k := range event.RedriveAttributes {
		delete(attrs, k)
	}
	if n := len(attrs) + len(event.RedriveAttributes); n > MaxAttributes {
		return Planned{}, fmt.Sprintf("%d attributes with the redrive's, over Pub/Sub's %d", n, MaxAttributes)
	}
	attrs[event.AttrRedriveOf] = id
	attrs[event.AttrRedrivePublishTime] = published.UTC().Format(time.RFC3339Nano)
	attrs[event.AttrRedriveID] = redriveID
	return Planned{
		MessageID: dl.MessageID, OriginalMessageID: id, DeadLetteredAt: dl.DeadLetteredAt,
		Stage: dl.Stage, Kind: dl.Kind, Reason: dl.Reason, DataBytes: len(dl.Data),
		Attributes: attrs, Data: dl.Data,
	}, ""
}

// sortedKeys returns a map's keys in order, for stable output.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
