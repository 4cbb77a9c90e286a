package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pipelinekit/pipelinekit/functions/collectevents"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

// CollectConfig sizes the collector memory benchmark.
type CollectConfig struct {
	// Burst is how many maximum-size requests are sent at once: CollectEvents' concurrency.
	Burst int
	Log   *slog.Logger
}

// CollectResult is the peak resident memory of one process serving a burst of maximum-size
// CollectEvents requests (MAX_BODY_BYTES each), for each body shape, through the collector
// (new) and through the decode path it replaced (baseline), beside the idle process.
type CollectResult struct {
	Burst        int            `json:"burst"`
	MaxBodyBytes int64          `json:"max_body_bytes"`
	Shapes       []CollectShape `json:"shapes"`
	// BoundMB is collectevents.RequestPeakBytes for MAX_BODY_BYTES, in MB: the per-request
	// figure Terraform's precondition multiplies by the concurrency.
	BoundMB float64 `json:"bound_mb"`
}

// CollectShape is one body shape's figures.
type CollectShape struct {
	Shape string `json:"shape"`
	// IdleRSSMB is the process's resident memory after one small request, before the burst.
	IdleRSSMB         float64 `json:"idle_rss_mb"`
	PeakRSSMB         float64 `json:"peak_rss_mb"`
	BaselineIdleRSSMB float64 `json:"baseline_idle_rss_mb"`
	BaselinePeakRSSMB float64 `json:"baseline_peak_rss_mb"`
	// PerRequestMB is (peak - idle) / burst.
	PerRequestMB         float64 `json:"per_request_mb"`
	BaselinePerRequestMB float64 `json:"baseline_per_request_mb"`
	Status               string  `json:"status"` // the answers of the burst, e.g. "80 x 200"
}

// collectShapes are the maximum-size bodies sent: the most events of an even size, and one
// event as large as the body (refused for its size, after it was read).
var collectShapes = []struct {
	name, contentType string
	body              func(max int64, events int) []byte
}{
	{"1000 events, JSON array", "application/json", func(max int64, n int) []byte { return manyEvents(max, n, ",", "[", "]") }},
	{"1000 events, NDJSON", "application/x-ndjson", func(max int64, n int) []byte { return manyEvents(max, n, "\n", "", "") }},
	{"one event of the whole body, JSON", "application/json", func(max int64, _ int) []byte { return oneEvent(max) }},
}

// manyEvents fills max bytes with n search events of equal size, padded in properties.
func manyEvents(max int64, n int, sep, open, close string) []byte {
	each := (int(max)-len(open)-len(close))/n - len(sep)
	var b bytes.Buffer
	b.WriteString(open)
	for i := range n {
		if i > 0 {
			b.WriteString(sep)
		}
		ev := fmt.Sprintf(`{"id":"e%d","kind":"search","query":"q","properties":{"p":"`, i)
		b.WriteString(ev)
		b.WriteString(strings.Repeat("x", each-len(ev)-3))
		b.WriteString(`"}}`)
	}
	// JSON space fills the rounding, so the body is exactly max bytes.
	b.WriteString(strings.Repeat(" ", int(max)-b.Len()-len(close)))
	b.WriteString(close)
	return b.Bytes()
}

func oneEvent(max int64) []byte {
	head := `{"id":"big","kind":"search","query":"q","properties":{"p":"`
	return []byte(head + strings.Repeat("x", int(max)-len(head)-3) + `"}}`)
}

// benchCollect builds scripts/bench/internal/collectmem and, for each shape and each path (the
// collector, then the replaced decode path), starts a fresh process, sends one small request,
// reads its resident memory, sends Burst maximum-size requests at once (the publisher holds
// each until all have arrived) and reads the process's peak resident memory (VmHWM).
func benchCollect(ctx context.Context, c CollectConfig) (*CollectResult, error) {
	root, err := localstack.ModuleRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "bench-collect-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	bin, err := buildTool(ctx, root, tmp, "collectmem")
	if err != nil {
		return nil, err
	}
	const max = collectevents.DefaultMaxBodyBytes
	res := &CollectResult{Burst: c.Burst, MaxBodyBytes: max, BoundMB: float64(collectevents.RequestPeakBytes(max)) / (1 << 20)}
	for _, sh := range collectShapes {
		body := sh.body(max, collectevents.DefaultMaxEvents)
		if int64(len(body)) != max {
			return nil, fmt.Errorf("shape %q: body is %d bytes, want %d", sh.name, len(body), max)
		}
		s := CollectShape{Shape: sh.name}
		for _, path := range []string{"new", "old"} {
			c.Log.Info("collect: burst", "shape", sh.name, "path", path, "requests", c.Burst)
			idle, peak, status, err := collectBurst(ctx, bin, path, c.Burst, sh.contentType, body)
			if err != nil {
				return nil, fmt.Errorf("shape %q, path %s: %w", sh.name, path, err)
			}
			per := (peak - idle) / float64(c.Burst)
			if path == "new" {
				s.IdleRSSMB, s.PeakRSSMB, s.PerRequestMB, s.Status = idle, peak, per, status
			} else {
				s.BaselineIdleRSSMB, s.BaselinePeakRSSMB, s.BaselinePerRequestMB = idle, peak, per
			}
		}
		res.Shapes = append(res.Shapes, s)
	}
	return res, nil
}

// collectBurst runs one process through one burst and returns its idle and peak RSS in MB.
func collectBurst(ctx context.Context, bin, path string, burst int, contentType string, body []byte) (idle, peak float64, status string, err error) {
	cmd := exec.CommandContext(ctx, bin, "--path="+path, "--hold="+strconv.Itoa(burst))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	cmd.Stderr = io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, "", err
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, "", fmt.Errorf("starting %s: %w", bin, err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return 0, 0, "", fmt.Errorf("reading collectmem's address: %w", err)
	}
	base := "http://" + strings.TrimSpace(addr)
	client := &http.Client{Timeout: 5 * time.Minute}
	post := func(url, ct string, b []byte) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Content-Type", ct)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := postWarm(ctx, client, base, burst); err != nil || code != http.StatusOK {
		return 0, 0, "", fmt.Errorf("warm-up request: %d %v", code, err)
	}
	if _, err := post(base+"/reset", "text/plain", nil); err != nil {
		return 0, 0, "", err
	}
	if idle, err = rssMB(cmd.Process.Pid); err != nil {
		return 0, 0, "", err
	}
	codes := make([]int, burst)
	errs := make([]error, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() { codes[i], errs[i] = post(base+"/", contentType, body) })
	}
	wg.Wait()
	count := map[int]int{}
	for i := range burst {
		if errs[i] != nil {
			return 0, 0, "", fmt.Errorf("request %d: %w", i, errs[i])
		}
		count[codes[i]]++
	}
	var parts []string
	for code, n := range count {
		parts = append(parts, fmt.Sprintf("%d x %d", n, code))
	}
	peak, err = procStatusMB(cmd.Process.Pid, "VmHWM:")
	return idle, peak, strings.Join(parts, ", "), err
}

// postWarm sends burst small requests at once, so that the idle figure includes the goroutines,
// connections and buffers a burst sets up; the publisher releases them together.
func postWarm(ctx context.Context, client *http.Client, base string, burst int) (int, error) {
	codes := make([]int, burst)
	errs := make([]error, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/", strings.NewReader(`{"kind":"search","query":"warm"}`))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i := range burst {
		if errs[i] != nil || codes[i] != http.StatusOK {
			return codes[i], errs[i]
		}
	}
	return http.StatusOK, nil
}

// procStatusMB reads one kB field of /proc/PID/status, in MB (MiB).
func procStatusMB(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the memory of process %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				return 0, fmt.Errorf("parsing %s %q of process %d: %w", field, rest, pid, err)
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

func printCollect(w io.Writer, c *CollectResult) {
	if c == nil {
		return
	}
	name := "collect memory"
	fmt.Fprintf(w, "%-20s %-40s %14s %14s\n", name, fmt.Sprintf("%d requests of %d bytes at once", c.Burst, c.MaxBodyBytes), "collector", "replaced path")
	for _, s := range c.Shapes {
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f %7.1fx\n", name, s.Shape+": peak RSS (MB)", s.PeakRSSMB, s.BaselinePeakRSSMB, s.BaselinePeakRSSMB/s.PeakRSSMB)
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "  idle RSS before the burst (MB)", s.IdleRSSMB, s.BaselineIdleRSSMB)
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "  (peak - idle) / requests (MB)", s.PerRequestMB, s.BaselinePerRequestMB)
	}
	fmt.Fprintf(w, "%-20s %-40s %14.1f\n", name, "bound per request, RequestPeakBytes (MB)", c.BoundMB)
}
