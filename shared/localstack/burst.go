package localstack

import (
	"context"
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// BurstSource is the source attribute of the malformed burst's messages, so that their dead
// letters say where they came from.
const BurstSource = "dev-burst"

// malformedBurst is what a broken producer publishes: bytes no loader can ever decode, a few of
// each kind, so that the dead-letter signal shows a burst with more than one reason.
var malformedBurst = []struct {
	data  string
	count int
}{
	{"hello, not JSON", 3},
	{`["a JSON array", "not an object"]`, 2},
	{"\xff\xfe not UTF-8", 1},
}

// BurstReasons is the dead-letter reason each message of PublishMalformedBurst gets (the
// loader's own decoding, event.Decode, says it), with how many messages have it.
func BurstReasons() map[string]int64 {
	out := map[string]int64{}
	now := time.Now()
	for _, b := range malformedBurst {
		_, err := event.Decode(event.Message{ID: "burst", PublishTime: now, Data: []byte(b.data)}, now)
		out[err.Error()] += int64(b.count) // every burst message is malformed: err is never nil
	}
	return out
}

// PublishMalformedBurst publishes the malformed burst to the events topic, as a broken producer
// would: LoadEvents dead-letters each message with its reason (BurstReasons). It returns how
// many messages it published.
func (s *Stack) PublishMalformedBurst(ctx context.Context) (int, error) {
	n := 0
	for _, b := range malformedBurst {
		for range b.count {
			m := publish.Message{Data: []byte(b.data), Attributes: map[string]string{event.AttrSource: BurstSource}}
			if _, err := s.Publisher.Publish(ctx, m).Get(ctx); err != nil {
				return n, fmt.Errorf("publishing the malformed burst: %w", err)
			}
			n++
		}
	}
	return n, nil
}

// BurstSeen reports whether h's dead letters hold at least want (BurstReasons) per reason,
// summed over the window's minutes.
func BurstSeen(h *Health, want map[string]int64) bool {
	got := h.DeadLettersByReason()
	for reason, n := range want {
		if got[reason] < n {
			return false
		}
	}
	return true
}

// DeadLettersByReason sums the window's dead letters per reason.
func (h *Health) DeadLettersByReason() map[string]int64 {
	out := map[string]int64{}
	for _, d := range h.DeadLetters {
		out[d.Reason] += d.Count
	}
	return out
}
