package localstack

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/functions/streamtweets"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

// burstVisibleWithin is issue 28's bound: the stack's health shows a dead-letter burst within a
// minute of it being published.
const burstVisibleWithin = time.Minute

// TestHealthShowsTheMalformedBurst publishes the demo's malformed burst to a real stack and reads
// the health endpoint (what `dev status` and the deck's panel read) until every reason of the
// burst is counted, for at most burstVisibleWithin; then the other signals are the stack's.
func TestHealthShowsTheMalformedBurst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Project: gcloudemu.NewProjectID(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rankings: true,
		Stream: &StreamOptions{Lines: []string{`{"data":{"id":"1","text":"#go"}}`}}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	want := BurstReasons()
	sent := time.Now()
	n, err := s.PublishMalformedBurst(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := waitForBurst(ctx, s, want, sent)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, h.DeadLettersByReason()); diff != "" {
		t.Fatalf("%d malformed messages published; dead letters by reason after %s (-want +got):\n%s", n, burstVisibleWithin, diff)
	}
	if len(h.Problems) > 0 {
		t.Errorf("health problems: %q", h.Problems)
	}
	var subs []string
	for _, b := range h.Subscriptions {
		subs = append(subs, b.Subscription[strings.LastIndex(b.Subscription, "/")+1:])
	}
	if diff := cmp.Diff([]string{LoaderSub, RankingsSub}, subs); diff != "" {
		t.Errorf("subscriptions (-want +got):\n%s", diff)
	}
	if h.Stream == nil || h.Stream.State != "never" {
		t.Errorf("stream state %+v, want never (no StreamTweets run yet)", h.Stream)
	}
	var loads FunctionErrors
	for _, f := range h.Functions {
		if f.Function == "LoadEvents" {
			loads = f
		}
	}
	if loads.Requests < n || loads.Errors5xx != 0 {
		t.Errorf("LoadEvents answered %d requests with %d 5xx; want at least %d, none 5xx", loads.Requests, loads.Errors5xx, n)
	}
	var table strings.Builder
	h.Print(&table)
	for reason := range want {
		if !strings.Contains(table.String(), reason) {
			t.Errorf("the health table does not show %q:\n%s", reason, table.String())
		}
	}
	t.Logf("%s", table.String())
}

// waitForBurst reads the stack's health until it shows want (BurstReasons) or
// burstVisibleWithin has passed since sent, and returns the last reading.
func waitForBurst(ctx context.Context, s *Stack, want map[string]int64, sent time.Time) (*Health, error) {
	for {
		h, err := ReadHealth(ctx, s.HealthURL())
		if err != nil {
			return nil, err
		}
		if BurstSeen(h, want) || time.Since(sent) > burstVisibleWithin {
			return h, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// TestLeaseDoc: the stack reads StreamTweets' lease where StreamTweets writes it.
func TestLeaseDoc(t *testing.T) {
	if LeaseDoc != streamtweets.DefaultLeaseDoc {
		t.Errorf("LeaseDoc = %q, want streamtweets.DefaultLeaseDoc %q", LeaseDoc, streamtweets.DefaultLeaseDoc)
	}
}
