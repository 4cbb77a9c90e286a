package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		name string
		s    backfill.Status
		want string
	}{
		{"the example", backfill.Status{State: "running", RatePerSec: 512.3, ETASeconds: 148,
			Counts: backfill.Counts{Planned: 146_000, Succeeded: 70_068, Failed: 12, Retrying: 310}},
			"[#########.........]  48%  70,080/146,000 done  12 failed  310 retrying  512.3 tasks/s  ETA 2m28s"},
		{"planning", backfill.Status{State: "planning"},
			"[..................]   0%  0/0 done  0 failed  0 retrying  0.0 tasks/s  planning"},
		{"nearly done is not full", backfill.Status{State: "running", RatePerSec: 1000, ETASeconds: 1,
			Counts: backfill.Counts{Planned: 1_000_000, Succeeded: 999_999}},
			"[#################.]  99%  999,999/1,000,000 done  0 failed  0 retrying  1000.0 tasks/s  ETA 1s"},
		{"hours of ETA", backfill.Status{State: "running", RatePerSec: 0.25, ETASeconds: 3*3600 + 61.4,
			Counts: backfill.Counts{Planned: 100, Succeeded: 1}},
			"[..................]   1%  1/100 done  0 failed  0 retrying  0.2 tasks/s  ETA 3h1m1s"},
		{"cancelled counts as finished", backfill.Status{State: "cancelled",
			Counts: backfill.Counts{Planned: 10, Succeeded: 4, Cancelled: 6}},
			"[##################] 100%  10/10 done  0 failed  0 retrying  6 cancelled  0.0 tasks/s"},
		{"done with failures", backfill.Status{State: "done_with_failures", RatePerSec: 12.25,
			Counts: backfill.Counts{Planned: 3, Succeeded: 2, Failed: 1}},
			"[##################] 100%  3/3 done  1 failed  0 retrying  12.2 tasks/s"},
	}
	for _, tt := range tests {
		if got := progressLine(&tt.s); got != tt.want {
			t.Errorf("progressLine(%s) =\n%q, want\n%q", tt.name, got, tt.want)
		}
	}
}

func TestSummary(t *testing.T) {
	s := backfill.Status{JobID: "j1", State: "done_with_failures", FailuresSampled: true,
		CreatedAt: testCreated, UpdatedAt: testCreated.Add(90 * time.Minute),
		Counts: backfill.Counts{Planned: 2000, Succeeded: 1000, Failed: 1000, Rows: 1_234_567, APICalls: 2345},
		Failures: []backfill.FailureGroup{{Reason: "quotaExceeded", Count: 999,
			Shards: []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10"}}}}
	var b bytes.Buffer
	writeSummary(&b, &s, time.Minute)
	want := `job j1: done_with_failures
  tasks      2,000 planned, 1,000 succeeded, 1,000 failed, 0 cancelled
  rows       1,234,567
  API calls  2,345
  elapsed    1h30m0s
failures by cause (1,000 failed, grouped from a sample):
     999  quotaExceeded: s1, s2, s3 (+996 more)
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeSummary (-want +got):\n%s", diff)
	}

	// Without timestamps the watch's own duration stands in.
	b.Reset()
	writeSummary(&b, &backfill.Status{JobID: "j2", State: "done", Counts: backfill.Counts{Retrying: 2}}, 61*time.Second)
	want = `job j2: done
  tasks      0 planned, 0 succeeded, 0 failed, 0 cancelled, 2 retrying
  rows       0
  API calls  0
  elapsed    1m1s
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeSummary without timestamps (-want +got):\n%s", diff)
	}
}

func TestCommas(t *testing.T) {
	for n, want := range map[int]string{0: "0", 12: "12", 999: "999", 1000: "1,000", 146000: "146,000",
		1234567: "1,234,567", -1234: "-1,234", 100000: "100,000"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		n        int
		interval time.Duration
		want     time.Duration
	}{
		{1, 2 * time.Second, time.Second},
		{2, 2 * time.Second, 2 * time.Second},
		{5, 2 * time.Second, 16 * time.Second},
		{6, 2 * time.Second, maxBackoff},
		{1000, 2 * time.Second, maxBackoff},
		{1, 10 * time.Millisecond, 10 * time.Millisecond},
		{3, 10 * time.Millisecond, 40 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := backoff(tt.n, tt.interval); got != tt.want {
			t.Errorf("backoff(%d, %s) = %s, want %s", tt.n, tt.interval, got, tt.want)
		}
	}
}
