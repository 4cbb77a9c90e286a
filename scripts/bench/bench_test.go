package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRSSMBOfThisProcess(t *testing.T) {
	mb, err := rssMB(os.Getpid())
	if err != nil {
		t.Fatalf("rssMB(self) error = %v", err)
	}
	if mb < 1 || mb > 4096 {
		t.Errorf("rssMB(self) = %.1f MB, want a test binary's size (1 MB to 4 GB)", mb)
	}
	if _, err := rssMB(-1); err == nil {
		t.Errorf("rssMB(-1) error = nil, want an error")
	}
}

func TestWithEnvCopies(t *testing.T) {
	base := map[string]string{"A": "1", "WORKER_URL": "old"}
	got := withEnv(base, "WORKER_URL", "new")
	if diff := cmp.Diff(map[string]string{"A": "1", "WORKER_URL": "new"}, got); diff != "" {
		t.Errorf("withEnv mismatch (-want +got):\n%s", diff)
	}
	if base["WORKER_URL"] != "old" {
		t.Errorf("withEnv changed its argument: %v", base)
	}
}

// The table names every target and says which were missed.
func TestPrintBackfillTargets(t *testing.T) {
	var buf bytes.Buffer
	printBackfill(&buf, &BackfillResult{Videos: 2, Days: 3, Tasks: 6, Range: &RangeResult{},
		Targets: map[string]bool{"nothing_lost_or_duplicated": true, "enqueue_2000_per_s": true, "within_300_s": false, "40x_sequential": true}})
	out := buf.String()
	for _, want := range []string{"target within_300_s", "MISSED", "target 40x_sequential", "range plan: API calls"} {
		if !strings.Contains(out, want) {
			t.Errorf("printBackfill output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, " met\n"); n != 3 {
		t.Errorf("printBackfill shows %d targets met, want 3:\n%s", n, out)
	}
}

// The rankings benchmark's events all decode, and as many carry the hot hashtag as it says.
func TestRankingMessages(t *testing.T) {
	msgs, hot := rankingMessages(100, "t")
	if len(msgs) != 100 || hot != 70 {
		t.Fatalf("rankingMessages(100) = %d messages, %d hot, want 100 and 70", len(msgs), hot)
	}
	counted := 0
	for _, m := range msgs {
		rec, err := event.Decode(event.Message{ID: m.MessageID, Data: m.Data, Attributes: m.Attributes, PublishTime: time.Now()}, time.Now())
		if err != nil {
			t.Fatalf("Decode(%s) = %v", m.Data, err)
		}
		e, ok := rankings.EntryOf(rec)
		if !ok {
			t.Errorf("%s counts in no ranking", m.Data)
		}
		for _, c := range e.Counts {
			if c.Ranking == rankings.Hashtags && c.Key == "hot" {
				counted++
			}
		}
	}
	if counted != hot {
		t.Errorf("%d events count #hot, want %d", counted, hot)
	}
}
