package jobnotice

import (
	"context"
	"fmt"

	"cloud.google.com/go/pubsub/v2"

	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// Publisher publishes notices on the job events topic; it is safe for concurrent use and must
// be stopped with Stop.
type Publisher struct {
	pub *publish.Publisher
}

// NewPublisher returns a Publisher on topic (an id in the client's project). Notices are rare
// and sent one at a time, each waited for: the pipeline's default settings serve them.
func NewPublisher(client *pubsub.Client, topic string) *Publisher {
	return &Publisher{pub: publish.New(client, topic, publish.DefaultSettings())}
}

// Publish publishes n and waits for Pub/Sub's answer; it returns the message id Pub/Sub gave.
func (p *Publisher) Publish(ctx context.Context, n Notice) (string, error) {
	m, err := n.Message()
	if err != nil {
		return "", err
	}
	id, err := p.pub.Publish(ctx, m).Get(ctx)
	if err != nil {
		return "", fmt.Errorf("publishing notice %s: %w", n.NoticeID, err)
	}
	return id, nil
}

// Stop sends what is queued and stops the publisher.
func (p *Publisher) Stop() { p.pub.Stop() }
