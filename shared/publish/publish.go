// Package publish sends events to a Pub/Sub topic with attributes, batched
// with settings chosen for this pipeline's bursts of small events, and
// reports per-message errors that say which message and topic failed. It
// also holds the idempotent topic and subscription helpers (admin.go) that
// the local stack and tests use to create what Terraform creates in the cloud.
//
// Reference: docs/performance.md#publishing.
package publish

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Message is one event to publish.
type Message struct {
	// Data is the payload; Data plus Attributes must stay under Pub/Sub's 10 MB.
	Data []byte
	// Attributes travel beside the payload, for filtering and routing without decoding it.
	Attributes map[string]string
	// OrderingKey orders messages sharing it; it needs Settings.Ordering.
	OrderingKey string
}

// Publisher publishes to one topic; it is safe for concurrent use and must be stopped with Stop.
type Publisher struct {
	topic string
	pub   *pubsub.Publisher
}

// New returns a Publisher for topic (an id in the client's project, or
// projects/P/topics/T) with settings s, used as given: check settings read
// from configuration with Settings.Validate first.
func New(client *pubsub.Client, topic string, s Settings) *Publisher {
	pub := client.Publisher(topic)
	pub.PublishSettings = s.publishSettings()
	pub.EnableMessageOrdering = s.Ordering
	return &Publisher{topic: pub.ID(), pub: pub}
}

// Topic returns the topic id this Publisher sends to.
func (p *Publisher) Topic() string { return p.topic }

// Result is the outcome of one Publish, ready once the server has answered.
type Result struct {
	topic string
	r     *pubsub.PublishResult
}

// Ready is closed when the result is available.
func (r *Result) Ready() <-chan struct{} { return r.r.Ready() }

// Get waits for the result and returns the server-assigned message id.
func (r *Result) Get(ctx context.Context) (string, error) {
	id, err := r.get(ctx)
	if err != nil {
		return "", fmt.Errorf("publishing to topic %s: %w", r.topic, err)
	}
	return id, nil
}

// get returns the id or the client's error, explained when the topic is missing.
func (r *Result) get(ctx context.Context) (string, error) {
	id, err := r.r.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return "", fmt.Errorf("topic %s does not exist (create it with EnsureTopic or Terraform): %w", r.topic, err)
	}
	return id, err
}

// Publish queues m for the next batch and returns at once, like the client's
// Publish; with Settings.BlockOnLimit it waits while the flow-control limit
// is reached, until there is room or ctx ends.
func (p *Publisher) Publish(ctx context.Context, m Message) *Result {
	return &Result{topic: p.topic, r: p.pub.Publish(ctx, &pubsub.Message{
		Data:        m.Data,
		Attributes:  m.Attributes,
		OrderingKey: m.OrderingKey,
	})}
}

// PublishAll publishes every message, waits for all of them, and returns one
// error per message (nil for those that succeeded), so a caller can retry or
// dead-letter exactly the ones that failed. A failed message with an ordering
// key pauses that key; PublishAll resumes it so the next call can try again.
func (p *Publisher) PublishAll(ctx context.Context, msgs []Message) []error {
	results := make([]*Result, len(msgs))
	for i, m := range msgs {
		results[i] = p.Publish(ctx, m)
	}
	errs := make([]error, len(msgs))
	for i, r := range results {
		if _, err := r.get(ctx); err != nil {
			errs[i] = fmt.Errorf("publishing message %d to topic %s: %w", i, p.topic, err)
			if key := msgs[i].OrderingKey; key != "" {
				p.pub.ResumePublish(key)
			}
		}
	}
	return errs
}

// Resume lets messages with orderingKey be published again after a failure paused the key.
func (p *Publisher) Resume(orderingKey string) { p.pub.ResumePublish(orderingKey) }

// Stop sends every queued message, waits for the results, and stops the
// batching goroutines; Publish fails after Stop.
func (p *Publisher) Stop() { p.pub.Stop() }

// ErrOversized is the error a message over the 10 MB request limit fails with.
var ErrOversized = pubsub.ErrOversizedMessage

// IsTopicNotFound reports whether err says the topic does not exist.
func IsTopicNotFound(err error) bool {
	var s interface{ GRPCStatus() *status.Status }
	return errors.As(err, &s) && s.GRPCStatus().Code() == codes.NotFound
}
