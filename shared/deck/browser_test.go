package deck_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/deck"
	"github.com/pipelinekit/pipelinekit/shared/deck/deckcheck"
	"github.com/pipelinekit/pipelinekit/shared/deck/decktest"
	"github.com/pipelinekit/pipelinekit/shared/viewtoken"
)

// TestDeckInBrowser drives the deck in headless Chromium against decktest, the serving API's
// JSON computed from the project's sample stream.
func TestDeckInBrowser(t *testing.T) {
	b := deckcheck.NewBrowser(t)
	now := time.Now().UTC().Truncate(time.Second)
	viewsKey := []byte("a test key of at least thirty-two bytes")
	fake, err := decktest.NewServer(decktest.Options{Deck: deck.Config{
		DefaultKeyword: "pipeline", Window: "1d", PollInterval: 300 * time.Millisecond,
	}, ViewsKey: viewsKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	d := deckcheck.NewDeckUnderTest(fake.URL+"/", func(data []byte) error { _, err := fake.Publish(data); return err })
	d.ViewToken = func(user string) string {
		tok, err := viewtoken.Mint(viewsKey, user, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	d.JobBar = map[string]string{"bf-908b0144eb154ac5": "40", "bf-1a2b3c4d5e6f7a8b": "100"}
	deckcheck.SeedSample(t, d, now, filepath.Join("..", "localstack", "testdata", "sample_stream.jsonl"))
	fake.SetJobs([]map[string]any{
		{"job_id": "bf-908b0144eb154ac5", "state": "running", "rate_per_sec": 28.1, "eta_s": 6,
			"counts": map[string]int{"planned": 300, "enqueued": 300, "succeeded": 118, "failed": 2, "retrying": 3}},
		{"job_id": "bf-1a2b3c4d5e6f7a8b", "state": "done",
			"counts": map[string]int{"planned": 40, "enqueued": 40, "succeeded": 40}},
	})
	// The local stack's health as it answers it (more fields than the panel reads), with a
	// hostile reason: the panel shows it as text.
	const hostileReason = `data: unknown kind: <img src=x onerror="window.pwned=1"> (top-level keys: "x")`
	if err := fake.SetHealth(map[string]any{
		"at": now, "window_s": 600,
		"dead_letters": []map[string]any{
			{"minute": now.Add(-2 * time.Minute).Truncate(time.Minute), "reason": "data: not JSON", "count": 1},
			{"minute": now.Truncate(time.Minute), "reason": "data: not JSON", "count": 3},
			{"minute": now.Truncate(time.Minute), "reason": hostileReason, "count": 1},
		},
		"subscriptions": []map[string]any{
			{"subscription": "projects/p/subscriptions/events-loader", "unacked": 64, "at_least": true, "oldest_unacked_age_s": 12, "acked": 9},
			{"subscription": "projects/p/subscriptions/events-rankings", "unacked": 0, "oldest_unacked_age_s": 0},
		},
		"stream":    map[string]any{"state": "idle", "holder": "exec-1", "idle_s": 42},
		"jobs":      []map[string]any{{"job_id": "bf-908b0144eb154ac5", "state": "running", "rate_per_sec": 28.1}},
		"functions": []map[string]any{{"function": "LoadEvents", "requests": 245, "errors_5xx": 3}, {"function": "ServeRankings", "requests": 40, "errors_5xx": 0}},
		"problems":  []string{"nothing the page reads"},
	}); err != nil {
		t.Fatal(err)
	}
	d.HealthReasons = map[string]int64{"data: not JSON": 4, hostileReason: 1}
	d.Health5xx = map[string]string{"LoadEvents": "3", "ServeRankings": "0"}
	deckcheck.Run(t, b, d, now)
}
