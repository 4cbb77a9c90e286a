package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/deck/deckcheck"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// TestDeckInBrowserOnTheStack drives the deck in headless Chromium against the real
// ServeRankings of the local stack: tweets go through the events topic to UpdateRankings
// (Pub/Sub emulator, Firestore emulator), app events through CollectEvents, and the page reads
// ServeRankings at /ServeRankings/. The checks are shared/deck's (deckcheck.Run); the top
// hashtag the page shows is also compared with the SQL truth over the dedup views.
func TestDeckInBrowserOnTheStack(t *testing.T) {
	b := deckcheck.NewBrowser(t) // skips, naming the install command, without Chromium
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Project: gcloudemu.NewProjectID(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rankings: true,
		FunctionsEnv: map[string]string{"DECK_WINDOW": "1d", "DECK_POLL_INTERVAL": "300ms"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	publish := deckPublisher(ctx, s)
	d := deckcheck.NewDeckUnderTest(s.Rankings.URL+"/", publish)
	d.NoBackfills = true // this stack runs no Backfill function
	d.ViewToken = func(user string) string {
		tok, err := s.ViewToken(user, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now().UTC().Truncate(time.Second)
	deckcheck.SeedSample(t, d, now, filepath.Join("testdata", "sample_stream.jsonl"))
	// The demo's malformed burst: the health panel shows it by reason, as `dev status` does.
	d.HealthReasons = BurstReasons()
	sent := time.Now()
	if _, err := s.PublishMalformedBurst(ctx); err != nil {
		t.Fatal(err)
	}
	if h, err := waitForBurst(ctx, s, d.HealthReasons, sent); err != nil || !BurstSeen(h, d.HealthReasons) {
		t.Fatalf("the stack's health does not show the burst within %s: %v", burstVisibleWithin, err)
	}
	deckcheck.Run(t, b, d, now)

	// The page showed #gcp first (deckcheck.Run checks it); so does SQL over what was loaded.
	deadline := time.Now().Add(60 * time.Second)
	for {
		truth, err := s.RankingTruth(ctx, rankings.Hashtags, now.Add(-24*time.Hour), time.Now().Add(time.Minute), 3)
		if err == nil && len(truth) > 0 && truth[0].Key == "gcp" {
			t.Logf("SQL truth of the hashtag ranking: %v", truth)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the hashtag ranking by SQL is %v (%v), want gcp first as the page shows", truth, err)
			break
		}
		time.Sleep(200 * time.Millisecond) // polling BigQuery until the loader has caught up
	}
}

// deckPublisher publishes what deckcheck seeds into the stack: X messages through the events
// topic, app events through CollectEvents as an app posts them.
func deckPublisher(ctx context.Context, s *Stack) func(data []byte) error {
	var appSeq atomic.Int64
	return func(data []byte) error {
		if _, err := s.PublishX(ctx, data); err == nil {
			return nil
		}
		// Not an X message: an app event, posted to CollectEvents as an app does.
		var ev map[string]any
		if err := json.Unmarshal(data, &ev); err != nil {
			return fmt.Errorf("%.60s is neither an X message nor an app event: %w", data, err)
		}
		if _, ok := ev["id"]; !ok {
			ev["id"] = fmt.Sprintf("deck-%d", appSeq.Add(1))
		}
		body, _ := json.Marshal(ev)
		resp, err := http.Post(s.Functions.URL+"/CollectEvents", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var out struct{ Accepted int }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode/100 != 2 || out.Accepted != 1 {
			return fmt.Errorf("CollectEvents %s = %d, accepted %d, %v", body, resp.StatusCode, out.Accepted, err)
		}
		return nil
	}
}
