package ga4fake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// MemoryBench is the ga4_memory benchmark (scripts/bench --only ga4_memory): one GA4 task's
// peak memory at the biggest report page, streamed against the buffered path.
var MemoryBench = sourcestest.Bench{Name: "ga4_memory", Run: func(ctx context.Context, log *slog.Logger) (sourcestest.BenchResult, error) {
	return benchGA4Memory(ctx, log)
}}

// GA4MemoryResult is the peak memory of one GA4 task reading the biggest report page: 9
// dimensions and 10 metrics (the API's most a request), 259,200 rows, at the spec's limits of
// 100,000 and 250,000 (the API's largest). Each run is a process of its own
// (shared/sources/ga4/ga4fake/ga4page), so its peak RSS (VmHWM) is the task's: RSS is what Cloud
// Run's memory limit counts, garbage the collector has not returned included; the peak of live
// heap objects, sampled every millisecond, is given beside it. The baseline is the buffered path
// the worker had (GA4.Report, then every row) in the same run.
type GA4MemoryResult struct {
	Dimensions int `json:"dimensions"`
	Metrics    int `json:"metrics"`
	ReportRows int `json:"report_rows"`
	// BoundMB is ga4.TaskMemory.
	BoundMB float64        `json:"bound_mb"`
	Runs    []GA4MemoryRun `json:"runs"`
}

// GA4MemoryRun is one process's figures (the child's JSON line).
type GA4MemoryRun struct {
	Mode       string  `json:"mode"`
	Limit      int     `json:"limit"`
	Rows       int     `json:"rows"`
	Pages      int     `json:"pages"`
	Calls      int     `json:"calls"`
	Ms         int64   `json:"ms"`
	Error      string  `json:"error,omitempty"`
	StartRSSMB float64 `json:"start_rss_mb"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	PeakHeapMB float64 `json:"peak_heap_mb"`
}

var (
	ga4BenchDimensions = []string{"date", "country", "deviceCategory", "sessionDefaultChannelGroup", "pagePath",
		"browser", "operatingSystem", "language", "city"}
	ga4BenchMetrics = []string{"activeUsers", "newUsers", "totalUsers", "sessions", "screenPageViews", "eventCount",
		"conversions", "engagedSessions", "engagementRate", "averageSessionDuration"}
)

// benchGA4Memory serves the report from the fake GA4 API in this process and runs the task in
// fresh processes: buffered, then streamed, at each limit.
func benchGA4Memory(ctx context.Context, log *slog.Logger) (*GA4MemoryResult, error) {
	tmp, err := os.MkdirTemp("", "bench-ga4-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// The child is built from this package's folder, wherever the module is (go build resolves
	// the import path from the current module).
	bin := filepath.Join(tmp, "ga4page")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/pipelinekit/pipelinekit/shared/sources/ga4/ga4fake/ga4page")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building ga4page: %w\n%s", err, out)
	}
	srv := NewGA4Server(WithGA4TokensPerHour(1 << 40))
	defer srv.Close()
	res := &GA4MemoryResult{Dimensions: len(ga4BenchDimensions), Metrics: len(ga4BenchMetrics), ReportRows: 259_200,
		BoundMB: float64(ga4.TaskMemory) / (1 << 20)}
	for _, limit := range []int{100_000, ga4.GA4MaxLimit} {
		for _, mode := range []string{"buffered", "streamed"} {
			log.Info("ga4 memory: one task", "mode", mode, "limit", limit)
			cmd := exec.CommandContext(ctx, bin, "--url", srv.URL(), "--mode", mode, "--limit", fmt.Sprint(limit),
				"--start", "2026-01-01", "--end", "2026-01-01",
				"--dimensions", strings.Join(ga4BenchDimensions, ","), "--metrics", strings.Join(ga4BenchMetrics, ","))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, os.Stderr
			if err := cmd.Run(); err != nil {
				return nil, fmt.Errorf("ga4page %s limit %d: %w", mode, limit, err)
			}
			var run GA4MemoryRun
			if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &run); err != nil {
				return nil, fmt.Errorf("reading ga4page's figures %q: %w", out.String(), err)
			}
			res.Runs = append(res.Runs, run)
		}
	}
	return res, nil
}

// Print implements sourcestest.BenchResult: scripts/bench's table rows.
func (r *GA4MemoryResult) Print(w io.Writer) {
	name := fmt.Sprintf("ga4, %dx%d", r.Dimensions, r.Metrics)
	byKey := map[string]GA4MemoryRun{}
	for _, run := range r.Runs {
		byKey[fmt.Sprintf("%s/%d", run.Mode, run.Limit)] = run
	}
	for _, limit := range []int{100_000, ga4.GA4MaxLimit} {
		s, b := byKey[fmt.Sprintf("streamed/%d", limit)], byKey[fmt.Sprintf("buffered/%d", limit)]
		base := fmt.Sprintf("%14.0f", b.PeakRSSMB)
		if b.Error != "" {
			base = fmt.Sprintf("%14s", "fails")
		}
		fmt.Fprintf(w, "%-20s %-40s %14.0f %s\n", name, fmt.Sprintf("peak RSS MB, limit %d (vs buffered)", limit), s.PeakRSSMB, base)
		fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f\n", name, fmt.Sprintf("peak heap MB, limit %d", limit), s.PeakHeapMB, b.PeakHeapMB)
		fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, fmt.Sprintf("rows read, limit %d", limit), s.Rows, b.Rows)
		if b.Error != "" {
			fmt.Fprintf(w, "%-20s %-40s %s\n", name, "buffered error", b.Error)
		}
	}
	fmt.Fprintf(w, "%-20s %-40s %14.0f\n", name, "stated bound per task (MB)", r.BoundMB)
}
