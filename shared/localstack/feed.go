package localstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// PublishX classifies one X stream message as the collectors do (event.XAttributes, source
// replay) and publishes it to the events topic, returning its message id. A message that is no
// X message is refused, not published.
func (s *Stack) PublishX(ctx context.Context, data []byte) (string, error) {
	_, attrs, err := event.XAttributes(data, event.SourceReplay)
	if err != nil {
		return "", fmt.Errorf("classifying %.80s: %w", data, err)
	}
	id, err := s.Publisher.Publish(ctx, publish.Message{Data: data, Attributes: attrs}).Get(ctx)
	if err != nil {
		return "", fmt.Errorf("publishing %.80s: %w", data, err)
	}
	return id, nil
}

// xEpochMillis is the epoch of X's snowflake ids (2010-11-04T01:42:54.657Z).
const xEpochMillis = 1288834974657

// lastFreshID keeps fresh tweet ids rising within a process even when the clock does not move.
var lastFreshID atomic.Int64

// FreshTweet returns the tweet of an X stream line (its "data" object) as a new tweet: a fresh
// id (rising, a snowflake of the clock) and created_at now. Lines without a tweet (delete
// notices) give false.
func FreshTweet(line []byte, now time.Time) ([]byte, bool) {
	var m map[string]any
	if json.Unmarshal(line, &m) != nil {
		return nil, false
	}
	data, ok := m["data"].(map[string]any)
	if !ok {
		return nil, false
	}
	// A snowflake id as X makes them (milliseconds since X's epoch, shifted 22 bits), so fresh
	// tweets sort after the captured ones as real new tweets would.
	id := (now.UnixMilli() - xEpochMillis) << 22
	for {
		last := lastFreshID.Load()
		if id <= last {
			id = last + 1
		}
		if lastFreshID.CompareAndSwap(last, id) {
			break
		}
	}
	data["id"] = strconv.FormatInt(id, 10)
	data["created_at"] = now.UTC().Format(time.RFC3339Nano)
	b, err := json.Marshal(m)
	return b, err == nil
}

// Feed publishes the tweets of lines, one every interval, in a loop, each as a new tweet
// (FreshTweet), so that a page over the stack sees tweets arrive, until ctx ends. A failed
// publish is logged and the loop goes on.
func (s *Stack) Feed(ctx context.Context, lines []string, every time.Duration, log *slog.Logger) error {
	if len(lines) == 0 {
		return fmt.Errorf("feeding the stack: no lines")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		b, ok := FreshTweet([]byte(lines[i%len(lines)]), time.Now())
		if !ok {
			continue
		}
		if _, err := s.PublishX(ctx, b); err != nil && ctx.Err() == nil {
			log.Warn("feeding the stack", "err", err)
		}
	}
}
