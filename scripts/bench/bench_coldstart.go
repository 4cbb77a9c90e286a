package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

// ColdStartConfig sizes the cold-start benchmark.
type ColdStartConfig struct {
	// Starts is how many times each binary is started.
	Starts int
	Log    *slog.Logger
}

// ColdStartResult is the functions binary's time to first answer and idle memory, and a
// hello-world Functions Framework binary's.
type ColdStartResult struct {
	Starts int `json:"starts"`
	// Ms is the median time from process start to the first HTTP answer; Runs are every start's.
	Ms                float64   `json:"ms"`
	Runs              []float64 `json:"runs_ms"`
	IdleRSSMB         float64   `json:"idle_rss_mb"`
	Status            int       `json:"status"`
	BinaryMB          float64   `json:"binary_mb"`
	BaselineMs        float64   `json:"baseline_ms"`
	BaselineRuns      []float64 `json:"baseline_runs_ms"`
	BaselineIdleRSSMB float64   `json:"baseline_idle_rss_mb"`
	BaselineBinaryMB  float64   `json:"baseline_binary_mb"`
	Ratio             float64   `json:"ratio"`
}

// benchColdStart builds scripts/functions and the hello-world baseline once, starts each
// Starts times and measures from exec to the first HTTP answer, then the idle instance's RSS.
// The functions binary is asked GET /CollectEvents with no configuration: every package's
// init runs and the request goes through the framework and the lazy handler, which answers
// 500 (configuration missing) without calling any cloud service.
func benchColdStart(ctx context.Context, c ColdStartConfig) (*ColdStartResult, error) {
	root, err := localstack.ModuleRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "bench-coldstart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	c.Log.Info("cold start: building the functions and the hello-world baseline")
	fnBin, err := localstack.BuildFunctions(ctx, root, tmp)
	if err != nil {
		return nil, err
	}
	helloBin := filepath.Join(tmp, "hello")
	build := exec.CommandContext(ctx, "go", "build", "-o", helloBin, "./scripts/bench/internal/hello")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the hello-world baseline: %w\n%s", err, out)
	}

	res := &ColdStartResult{Starts: c.Starts}
	var rss, brss []float64
	for i := range c.Starts {
		// Alternate the two binaries so that a slow moment of the machine hits both.
		d, mb, status, err := coldStart(ctx, fnBin, "/CollectEvents")
		if err != nil {
			return nil, fmt.Errorf("functions start %d: %w", i+1, err)
		}
		res.Runs, rss, res.Status = append(res.Runs, ms(d)), append(rss, mb), status
		d, mb, _, err = coldStart(ctx, helloBin, "/HelloWorld")
		if err != nil {
			return nil, fmt.Errorf("hello-world start %d: %w", i+1, err)
		}
		res.BaselineRuns, brss = append(res.BaselineRuns, ms(d)), append(brss, mb)
	}
	res.Ms, res.IdleRSSMB = median(res.Runs), median(rss)
	res.BaselineMs, res.BaselineIdleRSSMB = median(res.BaselineRuns), median(brss)
	res.Ratio = res.Ms / res.BaselineMs
	res.BinaryMB, res.BaselineBinaryMB = fileMB(fnBin), fileMB(helloBin)
	return res, nil
}

// coldStart runs bin on a free port with a bare environment (no project, no emulators), polls
// path until any HTTP answer, and reads the process's resident memory once it has answered.
func coldStart(ctx context.Context, bin, path string) (time.Duration, float64, int, error) {
	port, err := localstack.FreePort()
	if err != nil {
		return 0, 0, 0, err
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "PORT=" + strconv.Itoa(port), "HOST=127.0.0.1"}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", port, path)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, fmt.Errorf("starting %s: %w", bin, err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	deadline := start.Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			elapsed := time.Since(start)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mb, err := rssMB(cmd.Process.Pid)
			return elapsed, mb, resp.StatusCode, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, 0, 0, fmt.Errorf("%s did not answer %s within 30s: %w", bin, url, err)
		}
		// Connection refused comes back at once; a short pause keeps the poll from taking
		// the CPU the starting process needs.
		time.Sleep(time.Millisecond)
	}
}

// rssMB reads VmRSS of a process from /proc, in MB (MiB).
func rssMB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the memory of process %d: %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				return 0, fmt.Errorf("parsing VmRSS %q of process %d: %w", rest, pid, err)
			}
			return float64(kb) / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fileMB(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / (1 << 20)
}

func printColdStart(w io.Writer, c *ColdStartResult) {
	if c == nil {
		return
	}
	name := "cold start"
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f %7.1fx\n", name, fmt.Sprintf("start -> first answer, median of %d (ms)", c.Starts), c.Ms, c.BaselineMs, c.Ratio)
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "idle RSS after first answer (MB)", c.IdleRSSMB, c.BaselineIdleRSSMB)
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "binary size (MB)", c.BinaryMB, c.BaselineBinaryMB)
}
