package publish

import (
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
)

// Settings are the batching and flow-control settings of a Publisher.
type Settings struct {
	// DelayThreshold sends a non-empty batch after this delay.
	DelayThreshold time.Duration
	// CountThreshold sends a batch when it holds this many messages (at most 1000).
	CountThreshold int
	// ByteThreshold sends a batch when it reaches this many bytes (at most 10 MB).
	ByteThreshold int
	// NumGoroutines bounds the concurrent Publish RPCs; 0 means the client's 25 x GOMAXPROCS.
	NumGoroutines int
	// Timeout bounds the attempts to publish one batch, retries included.
	Timeout time.Duration
	// MaxOutstandingMessages bounds the messages published but not yet acknowledged by the server.
	MaxOutstandingMessages int
	// MaxOutstandingBytes bounds the bytes published but not yet acknowledged by the server.
	MaxOutstandingBytes int
	// BlockOnLimit makes Publish wait for room when a flow-control limit is
	// reached; false makes it fail those messages with the client's flow-control error.
	BlockOnLimit bool
	// Ordering enables ordering keys; without it a message with an OrderingKey fails.
	Ordering bool
}

// DefaultSettings returns the settings chosen for this pipeline's events:
// 1-5 KB messages from collectors that publish in bursts, where a few
// milliseconds of added latency do not matter.
//
//   - CountThreshold 100 and ByteThreshold 1 MB (the client's): a burst of
//     3 KB events leaves in requests of ~300 KB that the client sends in
//     parallel. Bigger batches (500 messages, 4 MB) were measured slower
//     against the emulator (BenchmarkPublishRatio): fewer requests in flight,
//     and a short burst waits out the delay instead of filling a batch.
//   - DelayThreshold 5 ms instead of 10: a burst fills batches by count long
//     before that, so the delay only decides how long the tail of a burst
//     and a lone event wait; 5 ms is the "few ms" this workload accepts.
//   - NumGoroutines 0 (the client's 25 x GOMAXPROCS): a function instance has
//     one or two vCPUs, and the RPCs are I/O-bound.
//   - MaxOutstandingMessages 10 000, MaxOutstandingBytes 64 MB, block on the
//     limit: the client's default ignores its limit, so a burst larger than
//     the network drains grows the memory of a 256-512 MB instance until it
//     is killed and the events are lost; blocking slows the collector
//     instead (backpressure).
//   - Timeout 60 s, the client's: a Cloud Function's own deadline is longer.
func DefaultSettings() Settings {
	return Settings{
		DelayThreshold:         5 * time.Millisecond,
		CountThreshold:         100,
		ByteThreshold:          1 << 20,
		NumGoroutines:          0,
		Timeout:                60 * time.Second,
		MaxOutstandingMessages: 10_000,
		MaxOutstandingBytes:    64 << 20,
		BlockOnLimit:           true,
	}
}

// ClientSettings returns the official client's own defaults expressed as
// Settings (10 ms, 100 messages, 1 MB, 1000 outstanding messages, no
// blocking), for comparison.
func ClientSettings() Settings {
	d := pubsub.DefaultPublishSettings
	return Settings{
		DelayThreshold:         d.DelayThreshold,
		CountThreshold:         d.CountThreshold,
		ByteThreshold:          d.ByteThreshold,
		NumGoroutines:          d.NumGoroutines,
		Timeout:                d.Timeout,
		MaxOutstandingMessages: d.FlowControlSettings.MaxOutstandingMessages,
		MaxOutstandingBytes:    d.FlowControlSettings.MaxOutstandingBytes,
		BlockOnLimit:           d.FlowControlSettings.LimitExceededBehavior == pubsub.FlowControlBlock,
	}
}

// Validate reports settings the service or the client would reject or silently change.
func (s Settings) Validate() error {
	switch {
	case s.CountThreshold < 0 || s.CountThreshold > pubsub.MaxPublishRequestCount:
		return fmt.Errorf("count threshold %d outside 0..%d", s.CountThreshold, pubsub.MaxPublishRequestCount)
	case s.ByteThreshold < 0 || s.ByteThreshold > pubsub.MaxPublishRequestBytes:
		return fmt.Errorf("byte threshold %d outside 0..%d", s.ByteThreshold, int(pubsub.MaxPublishRequestBytes))
	case s.DelayThreshold < 0 || s.Timeout < 0 || s.NumGoroutines < 0:
		return fmt.Errorf("negative delay threshold %s, timeout %s or goroutines %d", s.DelayThreshold, s.Timeout, s.NumGoroutines)
	}
	return nil
}

// publishSettings converts s to the client's settings.
func (s Settings) publishSettings() pubsub.PublishSettings {
	ps := pubsub.DefaultPublishSettings
	ps.DelayThreshold = s.DelayThreshold
	ps.CountThreshold = s.CountThreshold
	ps.ByteThreshold = s.ByteThreshold
	ps.NumGoroutines = s.NumGoroutines
	ps.Timeout = s.Timeout
	ps.FlowControlSettings.MaxOutstandingMessages = s.MaxOutstandingMessages
	ps.FlowControlSettings.MaxOutstandingBytes = s.MaxOutstandingBytes
	ps.FlowControlSettings.LimitExceededBehavior = pubsub.FlowControlIgnore
	if s.BlockOnLimit {
		ps.FlowControlSettings.LimitExceededBehavior = pubsub.FlowControlBlock
	}
	return ps
}
