// Package localstack runs the pipeline on one machine: Google's emulators, our BigQuery and
// Cloud Tasks servers, the functions in their own process, and the Eventarc-like forwarder that
// delivers Pub/Sub messages to LoadEvents. Production code never imports it.
package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"
)

// Forwarder delivers a subscription's messages to an HTTP CloudEvent function the way Eventarc
// does in production: each message as a binary-mode google.cloud.pubsub.topic.v1.messagePublished
// CloudEvent, many in flight at once, acked on a 2xx answer and nacked otherwise (Pub/Sub then
// redelivers). The Pub/Sub emulator's own push delivery is nearly serial, too slow to show the
// loader's speed, which is why this exists.
type Forwarder struct {
	sub          *pubsub.Subscriber
	subscription string // projects/P/subscriptions/S
	topic        string // projects/P/topics/T
	target       string
	http         *http.Client
	log          *slog.Logger

	acked, nacked atomic.Int64
}

// NewForwarder returns a Forwarder from subscription (full name) of topic (full name) to the
// function at target, with at most maxInFlight deliveries outstanding.
func NewForwarder(client *pubsub.Client, subscription, topic, target string, maxInFlight int, log *slog.Logger) *Forwarder {
	if log == nil {
		log = slog.Default()
	}
	sub := client.Subscriber(subscription)
	sub.ReceiveSettings.MaxOutstandingMessages = maxInFlight
	sub.ReceiveSettings.NumGoroutines = 2
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxInFlight
	return &Forwarder{
		sub: sub, subscription: subscription, topic: topic, target: target, log: log,
		http: &http.Client{Transport: tr, Timeout: 60 * time.Second},
	}
}

// Acked returns how many messages the function accepted.
func (f *Forwarder) Acked() int64 { return f.acked.Load() }

// Nacked returns how many deliveries the function refused (each is redelivered).
func (f *Forwarder) Nacked() int64 { return f.nacked.Load() }

// Run delivers messages until ctx is done.
func (f *Forwarder) Run(ctx context.Context) error {
	err := f.sub.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
		if err := f.deliver(ctx, m); err != nil {
			f.nacked.Add(1)
			f.log.Debug("delivery refused; nacking", "message_id", m.ID, "error", err)
			m.Nack()
			return
		}
		f.acked.Add(1)
		m.Ack()
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("receiving from %s: %w", f.subscription, err)
	}
	return nil
}

// PushMessage is the message object of a Pub/Sub push body and of a messagePublished
// CloudEvent's data.
type PushMessage struct {
	Data        []byte            `json:"data"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	MessageID   string            `json:"messageId"`
	PublishTime string            `json:"publishTime"`
	OrderingKey string            `json:"orderingKey,omitempty"`
}

// PushBody is the data of a messagePublished CloudEvent (and a push subscription's body).
type PushBody struct {
	Message         PushMessage `json:"message"`
	Subscription    string      `json:"subscription"`
	DeliveryAttempt *int        `json:"deliveryAttempt,omitempty"`
}

// CloudEventRequest builds the binary-mode CloudEvent request Eventarc sends for a message.
func CloudEventRequest(ctx context.Context, target, topic string, body PushBody, publishTime time.Time) (*http.Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding CloudEvent data: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("ce-specversion", "1.0")
	h.Set("ce-type", "google.cloud.pubsub.topic.v1.messagePublished")
	h.Set("ce-source", "//pubsub.googleapis.com/"+topic)
	h.Set("ce-id", body.Message.MessageID)
	h.Set("ce-time", publishTime.UTC().Format(time.RFC3339Nano))
	return req, nil
}

func (f *Forwarder) deliver(ctx context.Context, m *pubsub.Message) error {
	body := PushBody{
		Message: PushMessage{
			Data: m.Data, Attributes: m.Attributes, MessageID: m.ID,
			PublishTime: m.PublishTime.UTC().Format(time.RFC3339Nano), OrderingKey: m.OrderingKey,
		},
		Subscription:    f.subscription,
		DeliveryAttempt: m.DeliveryAttempt,
	}
	req, err := CloudEventRequest(ctx, f.target, f.topic, body, m.PublishTime)
	if err != nil {
		return err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return fmt.Errorf("posting message %s: %w", m.ID, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("message %s: function answered %s: %s", m.ID, strconv.Itoa(resp.StatusCode), bytes.TrimSpace(msg))
	}
	return nil
}
