// Package localstack runs the pipeline on one machine: Google's emulators, our BigQuery and
// Cloud Tasks servers, the functions in their own process, and the Eventarc-like forwarder that
// delivers Pub/Sub messages to LoadEvents. Production code never imports it.
//
// Reference: docs/local-stack.md.
package localstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
)

// Forwarder delivers a subscription's messages to a function the way the push subscription
// Terraform declares does in production: each message as the wrapped JSON body, POSTed to the
// push endpoint's path, many in flight at once, acked on an answer Pub/Sub takes as an ack
// (pushdelivery.Acked) and nacked otherwise
// (Pub/Sub then redelivers, and dead-letters after the subscription's attempts). The Pub/Sub
// emulator's own push delivery is nearly serial, too slow to show the loader's speed, which is
// why this exists.
type Forwarder struct {
	sub          *pubsub.Subscriber
	subscription string // projects/P/subscriptions/S
	target       string
	http         *http.Client
	log          *slog.Logger
	backlog      *backlog

	acked, nacked atomic.Int64
}

// NewForwarder returns a Forwarder from subscription (full name) to the function at target, with
// at most maxInFlight deliveries outstanding, each waited for at most ackDeadline: for push
// delivery the subscription's ack deadline is the request's timeout
// (https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions, ackDeadlineSeconds).
// maxAttempts is the subscription's dead-letter policy's max_delivery_attempts (0: none), for
// the backlog it reports.
func NewForwarder(client *pubsub.Client, subscription, target string, maxInFlight int, ackDeadline time.Duration, maxAttempts int, log *slog.Logger) *Forwarder {
	if log == nil {
		log = slog.Default()
	}
	sub := client.Subscriber(subscription)
	sub.ReceiveSettings.MaxOutstandingMessages = maxInFlight
	sub.ReceiveSettings.NumGoroutines = 2
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = maxInFlight
	return &Forwarder{
		sub: sub, subscription: subscription, target: target, log: log,
		http:    &http.Client{Transport: tr, Timeout: ackDeadline},
		backlog: newBacklog(maxInFlight, maxAttempts),
	}
}

// Backlog returns the subscription's backlog as the forwarder sees it at now (see backlog.go).
func (f *Forwarder) Backlog(now time.Time) Backlog {
	return f.backlog.snapshot(f.subscription, now)
}

// Acked returns how many messages the function accepted.
func (f *Forwarder) Acked() int64 { return f.acked.Load() }

// Nacked returns how many deliveries the function refused (each is redelivered).
func (f *Forwarder) Nacked() int64 { return f.nacked.Load() }

// Run delivers messages until ctx is done.
func (f *Forwarder) Run(ctx context.Context) error {
	err := f.sub.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
		f.backlog.received(m.ID, m.PublishTime)
		attempt := 0
		if m.DeliveryAttempt != nil {
			attempt = *m.DeliveryAttempt
		}
		if err := f.deliver(ctx, m); err != nil {
			f.backlog.done(m.ID, false, attempt)
			f.nacked.Add(1)
			f.log.Debug("delivery refused; nacking", "message_id", m.ID, "error", err)
			m.Nack()
			return
		}
		f.backlog.done(m.ID, true, attempt)
		f.acked.Add(1)
		m.Ack()
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("receiving from %s: %w", f.subscription, err)
	}
	return nil
}

// PushMessage and PushBody are what a push subscription sends (shared/pushdelivery).
type (
	PushMessage = pushdelivery.PushMessage
	PushBody    = pushdelivery.PushBody
)

func (f *Forwarder) deliver(ctx context.Context, m *pubsub.Message) error {
	body := PushBody{
		Message: PushMessage{
			Data: m.Data, Attributes: m.Attributes, MessageID: m.ID,
			PublishTime: m.PublishTime.UTC().Format(time.RFC3339Nano), OrderingKey: m.OrderingKey,
		},
		Subscription:    f.subscription,
		DeliveryAttempt: m.DeliveryAttempt,
	}
	req, err := pushdelivery.PushRequest(ctx, f.target, body, "")
	if err != nil {
		return err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return fmt.Errorf("posting message %s: %w", m.ID, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if !pushdelivery.Acked(resp.StatusCode) {
		return fmt.Errorf("message %s: function answered %s: %s", m.ID, strconv.Itoa(resp.StatusCode), bytes.TrimSpace(msg))
	}
	return nil
}
