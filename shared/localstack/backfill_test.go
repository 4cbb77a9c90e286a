package localstack

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

func startBackfillStack(t *testing.T, b *BackfillOptions) *Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Project: gcloudemu.NewProjectID(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Backfill: b})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestBackfillEndToEnd(t *testing.T) {
	s := startBackfillStack(t, &BackfillOptions{YouTube: []sourcestest.Option{sourcestest.WithLatency(5 * time.Millisecond)}})
	ctx := context.Background()
	end := time.Now().UTC().AddDate(0, 0, -3)
	c, err := s.StartBackfill(ctx, YouTubeSpec(3, 5, "day", end))
	if err != nil {
		t.Fatal(err)
	}
	if c.PlannedTasks != 15 {
		t.Errorf("planned %d tasks, want 15", c.PlannedTasks)
	}
	st, err := s.WaitBackfill(ctx, c.JobID, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "done" || st.Counts.Succeeded != 15 || st.Counts.Rows != 15 {
		t.Errorf("status = %+v, want done with 15 tasks and 15 rows", st)
	}
	truth, err := s.BackfillRows(ctx, c.JobID)
	if err != nil {
		t.Fatal(err)
	}
	if truth.Keys != 15 || truth.DedupRows != 15 {
		t.Errorf("BigQuery holds %+v, want 15 keys and 15 dedup rows", truth)
	}
}
