package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

func TestListPrintsJobs(t *testing.T) {
	var gotQuery string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/backfills" {
			http.Error(w, `{"error":"no"}`, http.StatusNotFound)
			return
		}
		gotQuery = r.URL.RawQuery
		created := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
		json.NewEncoder(w).Encode(jobList{Jobs: []backfill.JobSummary{
			{JobID: "bf-0000000000000002", Source: "http_json", State: "running", Counts: backfill.Counts{Planned: 1200, Succeeded: 7}, CreatedAt: created},
			{JobID: "bf-0000000000000001", Source: "youtube_analytics", State: "done", Counts: backfill.Counts{Planned: 3, Succeeded: 3}, CreatedAt: created.Add(-time.Hour)},
		}, NextPageToken: "2026-11-22T09:00:00Z"})
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"--url", srv.URL, "--token", "t", "--limit", "2", "list"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("list = exit %d, stderr %s", code, stderr.String())
	}
	if gotQuery != "limit=2" {
		t.Errorf("list asked for %q, want limit=2", gotQuery)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "bf-0000000000000002") || !strings.Contains(lines[1], "1,200") || !strings.Contains(lines[2], "done") {
		t.Errorf("list printed:\n%s\nwant a header and the two jobs, newest first", stdout.String())
	}
	if !strings.Contains(stderr.String(), "page_token=") {
		t.Errorf("list did not say there are more jobs: stderr %q", stderr.String())
	}
}
