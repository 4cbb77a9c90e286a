package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// pushData is the data of a google.cloud.pubsub.topic.v1.messagePublished CloudEvent, which is
// also Pub/Sub's push body. Push deliveries carry both camelCase and snake_case spellings of
// some fields.
type pushData struct {
	Message struct {
		Data          []byte            `json:"data"`
		Attributes    map[string]string `json:"attributes"`
		MessageID     string            `json:"messageId"`
		MessageIDAlt  string            `json:"message_id"`
		PublishTime   string            `json:"publishTime"`
		PublishTimeAl string            `json:"publish_time"`
	} `json:"message"`
	Subscription    string          `json:"subscription"`
	DeliveryAttempt json.RawMessage `json:"deliveryAttempt"`
}

// MessageOfPush decodes the data of a Pub/Sub messagePublished CloudEvent into a Message.
// eventID and eventTime (the CloudEvent's) stand in for a message id and publish time the data
// lacks. On a publishTime that is not RFC 3339 it returns the message decoded so far and an error.
func MessageOfPush(data []byte, eventID string, eventTime time.Time) (Message, error) {
	var d pushData
	if err := json.Unmarshal(data, &d); err != nil {
		return Message{}, fmt.Errorf("CloudEvent data is not a Pub/Sub messagePublished JSON object: %v", err)
	}
	m := Message{
		ID:           firstNonEmpty(d.Message.MessageID, d.Message.MessageIDAlt, eventID),
		Data:         d.Message.Data,
		Attributes:   d.Message.Attributes,
		Subscription: d.Subscription,
		PublishTime:  eventTime,
	}
	if n, err := strconv.Atoi(string(bytes.Trim(d.DeliveryAttempt, `"`))); err == nil {
		m.DeliveryAttempt = n
	}
	if pt := firstNonEmpty(d.Message.PublishTime, d.Message.PublishTimeAl); pt != "" {
		t, err := time.Parse(time.RFC3339Nano, pt)
		if err != nil {
			return m, fmt.Errorf("message publishTime %q is not an RFC 3339 time", pt)
		}
		m.PublishTime = t
	}
	return m, nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
