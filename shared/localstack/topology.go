package localstack

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/topology"
)

// The deployment's topology (shared/topology, read from Terraform's plan): the local stack's
// subscriptions, queue and service accounts are the ones it declares, not a second description.
var deployment = sync.OnceValues(topology.Load)

// Topology returns the deployment's topology.
func Topology() (*topology.Topology, error) {
	t, err := deployment()
	if err != nil {
		return nil, fmt.Errorf("reading the deployment's topology: %w", err)
	}
	return t, nil
}

// subscriptionOptions are subscription name's settings as Terraform declares them. Push
// subscriptions are created for pull here: the stack's forwarder delivers them as Pub/Sub's push
// does (the emulator's own push is nearly serial and cannot sign tokens).
func subscriptionOptions(name string) (topic string, o publish.SubscriptionOptions, err error) {
	t, err := Topology()
	if err != nil {
		return "", o, err
	}
	sub, ok := t.Subscription(name)
	if !ok {
		return "", o, fmt.Errorf("terraform declares no subscription %q", name)
	}
	o = publish.SubscriptionOptions{
		AckDeadline: secondsDuration(sub.AckDeadlineSeconds),
		Filter:      sub.Filter,
	}
	if sub.DeadLetter != nil {
		o.DeadLetterTopic, o.MaxDeliveryAttempts = sub.DeadLetter.Topic, sub.DeadLetter.MaxDeliveryAttempts
	}
	if sub.RetryPolicy != nil {
		o.RetryMinBackoff, o.RetryMaxBackoff = sub.RetryPolicy.MinimumBackoff.D(), sub.RetryPolicy.MaximumBackoff.D()
	}
	return sub.Topic, o, nil
}

// pushTarget is where subscription name pushes: the function and the path after its URL.
func pushTarget(name string) (topology.Endpoint, error) {
	t, err := Topology()
	if err != nil {
		return topology.Endpoint{}, err
	}
	sub, ok := t.Subscription(name)
	if !ok || sub.Push == nil {
		return topology.Endpoint{}, fmt.Errorf("terraform declares no push subscription %q", name)
	}
	return sub.Push.Endpoint, nil
}

// localPath is a path of the deployment's project rewritten for project: the stack runs under
// any project id (each test its own), Terraform's plan under topology.Project.
func localPath(path, project string) string {
	if path == "projects/"+topology.Project {
		return "projects/" + project
	}
	return strings.ReplaceAll(path, "projects/"+topology.Project+"/", "projects/"+project+"/")
}

// DefaultQueueConfig is the backfill queue as Terraform declares it.
func DefaultQueueConfig() (QueueConfig, error) { return declaredQueue(BackfillQueue) }

// ControlQueueConfig is the control queue as Terraform declares it: unlimited attempts
// (MaxAttempts -1) and no age limit.
func ControlQueueConfig() (QueueConfig, error) { return declaredQueue(ControlQueue) }

// declaredQueue is the queue of the given name as Terraform declares it.
func declaredQueue(name string) (QueueConfig, error) {
	t, err := Topology()
	if err != nil {
		return QueueConfig{}, err
	}
	q, ok := t.Queue(name)
	if !ok {
		return QueueConfig{}, fmt.Errorf("terraform declares no queue %q", name)
	}
	return QueueConfig{
		MaxDispatchesPerSecond:  q.RateLimits.MaxDispatchesPerSecond,
		MaxConcurrentDispatches: q.RateLimits.MaxConcurrentDispatches,
		MaxAttempts:             q.Retry.MaxAttempts,
		MinBackoff:              q.Retry.MinBackoff.D(),
		MaxBackoff:              q.Retry.MaxBackoff.D(),
		MaxDoublings:            q.Retry.MaxDoublings,
		MaxRetryDuration:        q.Retry.MaxRetryDuration.D(),
	}, nil
}

func secondsDuration(n int) time.Duration { return time.Duration(n) * time.Second }
