package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

// TestStatus: `dev status --url` prints the health endpoint's answer as a table (each signal's
// section, the dead letters by reason) or, with --json, as the same JSON; --watch is refused
// under its bound and taken at it.
func TestStatus(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 3, 0, 0, time.UTC)
	h := localstack.Health{
		At: at, WindowS: 600,
		DeadLetters:   []localstack.DeadLetterMinute{{Minute: at.Truncate(time.Minute), Reason: "data: not JSON", Count: 3}},
		Subscriptions: []localstack.Backlog{{Subscription: "projects/p/subscriptions/events-loader", Unacked: 64, AtLeast: true, OldestUnackedAgeS: 12, InFlight: 64}},
		Stream:        &localstack.StreamState{State: "idle", IdleS: 42},
		Jobs:          []localstack.RunningJob{{JobID: "bf-1", State: "running", Planned: 300, Succeeded: 118, Failed: 2, RatePerSec: 28.1}},
		Functions:     []localstack.FunctionErrors{{Function: "LoadEvents", Requests: 245, Errors5xx: 3}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(h)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var table strings.Builder
	if err := runStatus(ctx, []string{"--url", srv.URL}, &table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"dead letters per minute, by reason\n", "      3  data: not JSON\n",
		"  events-loader    unacked >=64  oldest 12s  in flight 64",
		"  idle for 42s",
		"  bf-1                   running  118/300 done  2 failed  28.1 tasks/s\n",
		"  LoadEvents          245 requests     3 5xx\n",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table has no %q:\n%s", want, table.String())
		}
	}

	var js strings.Builder
	if err := runStatus(ctx, []string{"--url", srv.URL, "--json"}, &js); err != nil {
		t.Fatal(err)
	}
	var got localstack.Health
	if err := json.Unmarshal([]byte(js.String()), &got); err != nil {
		t.Fatalf("--json printed %q: %v", js.String(), err)
	}
	if diff := cmp.Diff(h, got); diff != "" {
		t.Errorf("--json (-want +got):\n%s", diff)
	}

	if err := runStatus(ctx, []string{"--url", srv.URL, "--watch", (minWatch - time.Millisecond).String()}, &js); err == nil {
		t.Errorf("--watch %s: no error, want one naming the bound", minWatch-time.Millisecond)
	}
	// At the bound: two readings, then Ctrl-C (the context) ends it without an error.
	var w lines
	w.after, w.cancel = 2, cancel
	if err := runStatus(ctx, []string{"--url", srv.URL, "--json", "--watch", minWatch.String()}, &w); err != nil {
		t.Errorf("--watch %s: %v", minWatch, err)
	}
}

// lines counts written lines and cancels after the given number.
type lines struct {
	n, after int
	cancel   func()
}

func (l *lines) Write(p []byte) (int, error) {
	l.n += strings.Count(string(p), "\n")
	if l.n >= l.after {
		l.cancel()
	}
	return len(p), nil
}
