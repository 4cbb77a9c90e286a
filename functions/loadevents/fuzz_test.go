package loadevents

import (
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// FuzzMessageOf feeds CloudEvent data to messageOf: it never panics, and a message it decodes
// has an id (the event's, when the data names none).
func FuzzMessageOf(f *testing.F) {
	f.Add([]byte(`{"message":{"data":"eyJhIjoxfQ==","attributes":{"kind":"tweet"},"messageId":"1","publishTime":"2026-11-22T10:00:00.123Z"},"subscription":"projects/p/subscriptions/s","deliveryAttempt":2}`), "evt-1")
	f.Add([]byte(`{"message":{"data":"!!","message_id":"2","publish_time":"yesterday"}}`), "evt-2")
	f.Add([]byte(`{"message":null,"deliveryAttempt":"3"}`), "evt-3")
	f.Add([]byte(`[]`), "evt-4")
	f.Fuzz(func(t *testing.T, data []byte, id string) {
		if id == "" {
			id = "evt"
		}
		e := cloudevents.NewEvent()
		e.SetID(id)
		e.SetSource("//pubsub.googleapis.com/projects/p/topics/events")
		e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
			return
		}
		m, err := messageOf(e)
		if err == nil && m.ID == "" {
			t.Errorf("messageOf(%s) = a message with no id", data)
		}
	})
}
