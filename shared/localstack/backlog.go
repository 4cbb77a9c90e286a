package localstack

import (
	"sync"
	"time"
)

// Production watches a subscription's backlog with Cloud Monitoring's
// subscription/num_undelivered_messages and subscription/oldest_unacked_message_age
// (https://cloud.google.com/pubsub/docs/monitoring, "Monitoring the backlog"). The Pub/Sub
// emulator serves only the Publisher and Subscriber APIs, with no metrics, and pulling without
// acking to count would change the deliveries. So the stack's forwarder (the subscription's only
// subscriber) computes the backlog from what it sees: every message it received and has not
// acked yet, nacked ones included until a later delivery is acked or Pub/Sub dead-letters them.
// Messages the emulator holds back because the forwarder's flow control is full are not seen:
// then the count is a lower bound (Backlog.AtLeast).

// maxTrackedMessages bounds the messages one forwarder remembers as unacked (an id and a time
// each, about 100 bytes): past it a new message is not remembered and the backlog reads "at
// least". A subscription whose function refuses everything holds at most maxDeliveryAttempts
// deliveries of each message before Pub/Sub dead-letters it, so only a very long outage of the
// function reaches it.
const maxTrackedMessages = 100_000

// Backlog is one subscription's backlog as its forwarder sees it.
type Backlog struct {
	Subscription string `json:"subscription"`
	// Unacked is the messages received and not acked yet: being delivered, or nacked and
	// waiting for Pub/Sub's redelivery.
	Unacked int `json:"unacked"`
	// AtLeast: the emulator may hold more than Unacked (flow control was full, or more than
	// maxTrackedMessages are unacked).
	AtLeast bool `json:"at_least,omitempty"`
	// OldestUnackedAgeS is the age, in seconds, of the oldest unacked message's publish time.
	OldestUnackedAgeS float64 `json:"oldest_unacked_age_s"`
	InFlight          int     `json:"in_flight"`
	Acked             int64   `json:"acked"`
	Nacked            int64   `json:"nacked"`
	// DeadLettered is the messages Pub/Sub moved to the dead-letter topic after their last
	// allowed delivery was nacked.
	DeadLettered int64 `json:"dead_lettered"`
}

// backlog tracks the unacked messages of one subscription's forwarder; safe for concurrent use.
type backlog struct {
	maxInFlight int
	maxAttempts int // the subscription's max_delivery_attempts; 0: no dead-letter policy
	maxTracked  int

	mu           sync.Mutex
	unacked      map[string]time.Time // message id -> publish time
	inFlight     int
	overflow     bool // a message was not remembered since the last time the map emptied
	acked        int64
	nacked       int64
	deadLettered int64
}

func newBacklog(maxInFlight, maxAttempts int) *backlog {
	return &backlog{maxInFlight: maxInFlight, maxAttempts: maxAttempts, maxTracked: maxTrackedMessages, unacked: map[string]time.Time{}}
}

// received records a delivery of message id, published at published.
func (b *backlog) received(id string, published time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight++
	if _, ok := b.unacked[id]; ok {
		return
	}
	if len(b.unacked) >= b.maxTracked {
		b.overflow = true
		return
	}
	b.unacked[id] = published
}

// done records the end of a delivery of id: acked, or nacked on its attempt-th delivery.
func (b *backlog) done(id string, ack bool, attempt int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inFlight--
	switch {
	case ack:
		b.acked++
		delete(b.unacked, id)
	case b.maxAttempts > 0 && attempt >= b.maxAttempts:
		// Pub/Sub forwards it to the dead-letter topic instead of redelivering it.
		b.nacked++
		b.deadLettered++
		delete(b.unacked, id)
	default:
		b.nacked++
	}
	if len(b.unacked) == 0 {
		b.overflow = false
	}
}

// snapshot is the backlog at now.
func (b *backlog) snapshot(subscription string, now time.Time) Backlog {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := Backlog{
		Subscription: subscription, Unacked: len(b.unacked), InFlight: b.inFlight,
		AtLeast: b.overflow || (b.maxInFlight > 0 && b.inFlight >= b.maxInFlight),
		Acked:   b.acked, Nacked: b.nacked, DeadLettered: b.deadLettered,
	}
	var oldest time.Time
	for _, t := range b.unacked {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if !oldest.IsZero() {
		out.OldestUnackedAgeS = max(0, now.Sub(oldest).Seconds())
	}
	return out
}
