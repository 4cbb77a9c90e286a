package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
)

// ColdStartConfig sizes the cold-start benchmark.
type ColdStartConfig struct {
	// Starts is how many times each binary is started.
	Starts int
	Log    *slog.Logger
}

// ColdStartResult is, for each function, the time from starting an instance to the first
// successful answer of a real request (its clients created against the local emulators
// included), and a hello-world Functions Framework binary's time to its first answer.
type ColdStartResult struct {
	Starts int `json:"starts"`
	// Functions are the per-function figures, in a fixed order.
	Functions         []FunctionColdStart `json:"functions"`
	IdleRSSMB         float64             `json:"idle_rss_mb"`
	BinaryMB          float64             `json:"binary_mb"`
	BaselineMs        float64             `json:"baseline_ms"`
	BaselineRuns      []float64           `json:"baseline_runs_ms"`
	BaselineIdleRSSMB float64             `json:"baseline_idle_rss_mb"`
	BaselineBinaryMB  float64             `json:"baseline_binary_mb"`
}

// FunctionColdStart is one function's cold start: the median over Runs, each from exec of a
// fresh instance to the first 2xx answer of Request.
type FunctionColdStart struct {
	Function string    `json:"function"`
	Request  string    `json:"request"`
	Ms       float64   `json:"ms"`
	Runs     []float64 `json:"runs_ms"`
	Status   int       `json:"status"`
	// Errors are the starts that got no successful answer; they are left out of Runs.
	Errors []string `json:"errors,omitempty"`
}

// coldRequest is a real request to one function and how to build it afresh for each start.
type coldRequest struct {
	function, what string
	build          func(ctx context.Context, base string, n int) (*http.Request, error)
}

// benchColdStart starts the local stack (emulators and local servers), then, for each
// function, starts fresh instances of the functions binary configured against it and times
// each from exec to the first successful answer of a real request: the function's clients are
// created on that request, as on a cold instance in production. The baseline is a hello-world
// Functions Framework binary's time to its first answer.
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
	helloBin, err := buildTool(ctx, root, tmp, "hello")
	if err != nil {
		return nil, fmt.Errorf("the hello-world baseline: %w", err)
	}
	lines, err := readSample(root)
	if err != nil {
		return nil, err
	}
	s, err := localstack.Start(ctx, localstack.Options{Project: fmt.Sprintf("bench-cold-%d", time.Now().UnixNano()), Log: c.Log,
		FunctionsBinary: fnBin, Backfill: &localstack.BackfillOptions{}, Rankings: true,
		Stream: &localstack.StreamOptions{Lines: lines, Duration: coldStreamDuration}})
	if err != nil {
		return nil, fmt.Errorf("starting the local stack: %w", err)
	}
	defer s.Close()
	env := s.FunctionsEnv()
	tasks, err := heldWorkerTasks(ctx, s, c.Starts)
	if err != nil {
		return nil, err
	}

	res := &ColdStartResult{Starts: c.Starts}
	var rss, brss []float64
	for _, r := range coldRequests(s, tasks) {
		f := FunctionColdStart{Function: r.function, Request: r.what}
		for i := range c.Starts {
			d, mb, status, err := coldStart(ctx, fnBin, env, func(base string) (*http.Request, error) { return r.build(ctx, base, i) })
			if err != nil {
				// Reported, not fatal: one function's failure must not hide the others' figures.
				f.Errors = append(f.Errors, fmt.Sprintf("start %d: %v", i+1, err))
				c.Log.Warn("cold start failed", "function", r.function, "start", i+1, "error", err)
				continue
			}
			f.Runs, f.Status, rss = append(f.Runs, ms(d)), status, append(rss, mb)
			// Alternate with the baseline so that a slow moment of the machine hits both.
			d, mb, _, err = coldStart(ctx, helloBin, nil, getRequest(ctx, "/HelloWorld"))
			if err != nil {
				return nil, fmt.Errorf("hello-world start: %w", err)
			}
			res.BaselineRuns, brss = append(res.BaselineRuns, ms(d)), append(brss, mb)
		}
		f.Ms = median(f.Runs)
		res.Functions = append(res.Functions, f)
	}
	res.IdleRSSMB, res.BaselineMs, res.BaselineIdleRSSMB = median(rss), median(res.BaselineRuns), median(brss)
	res.BinaryMB, res.BaselineBinaryMB = fileMB(fnBin), fileMB(helloBin)
	return res, nil
}

func readSample(root string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(root, "shared", "localstack", "testdata", "sample_stream.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("reading the sample stream: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

func getRequest(ctx context.Context, path string) func(string) (*http.Request, error) {
	return func(base string) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	}
}

// coldStreamDuration is StreamTweets' read window in the cold-start runs (STREAM_DURATION, as in
// the demo): its first answer comes at the earliest once the window has passed.
const coldStreamDuration = 3 * time.Second

// heldWorkerTasks pauses the stack's queue, starts a backfill of n tasks and returns them as
// the queue holds them, for the cold RunBackfillTask instances to run: each runs one task of a
// real job (the job read from Firestore, a token refresh and a fetch from the fake API, the rows
// appended to BigQuery, the outcome committed).
func heldWorkerTasks(ctx context.Context, s *localstack.Stack, n int) ([]*cloudtaskspb.Task, error) {
	if s.Backfill.Tasks == nil {
		return nil, errors.New("cold start: the stack reused a Cloud Tasks server, so the bench cannot hold its tasks")
	}
	if _, err := s.Backfill.TasksClient.PauseQueue(ctx, &cloudtaskspb.PauseQueueRequest{Name: s.Backfill.Queue}); err != nil {
		return nil, fmt.Errorf("pausing the queue: %w", err)
	}
	job, err := sizedSpec(s, 1, n, time.Now().UTC().AddDate(0, 0, -30))
	if err != nil {
		return nil, err
	}
	spec, err := localstack.NewRun(job)
	if err != nil {
		return nil, err
	}
	if _, err := s.StartBackfill(ctx, spec); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var tasks []*cloudtaskspb.Task
		for _, t := range s.Backfill.Tasks.Tasks(s.Backfill.Queue) {
			if strings.HasSuffix(t.GetHttpRequest().GetUrl(), "/RunBackfillTask") {
				tasks = append(tasks, t)
			}
		}
		if len(tasks) >= n {
			return tasks[:n], nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cold start: %d of %d worker tasks in the queue after a minute", len(tasks), n)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// taskRequest is the request Cloud Tasks would send for task: its body and headers, and the
// X-CloudTasks headers of a first attempt.
func taskRequest(ctx context.Context, url string, task *cloudtaskspb.Task) (*http.Request, error) {
	hr := task.GetHttpRequest()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(hr.GetBody()))
	if err != nil {
		return nil, err
	}
	for k, v := range hr.GetHeaders() {
		req.Header.Set(k, v)
	}
	queue, name := path.Base(path.Dir(path.Dir(task.GetName()))), path.Base(task.GetName())
	req.Header.Set("X-CloudTasks-QueueName", queue)
	req.Header.Set("X-CloudTasks-TaskName", name)
	req.Header.Set("X-CloudTasks-TaskRetryCount", "0")
	req.Header.Set("X-CloudTasks-TaskExecutionCount", "0")
	req.Header.Set("X-CloudTasks-TaskETA", strconv.FormatInt(time.Now().Unix(), 10))
	return req, nil
}

// coldRequests are the real requests each function answers 2xx once its clients work; tasks
// are worker tasks held in the paused queue, one per start of RunBackfillTask.
func coldRequests(s *localstack.Stack, tasks []*cloudtaskspb.Task) []coldRequest {
	post := func(ctx context.Context, url, ctype string, body []byte) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", ctype)
		}
		return req, err
	}
	stamp := time.Now().UnixNano()
	return []coldRequest{
		{"CollectEvents", "POST one app event (Firestore dedup, Pub/Sub publish)", func(ctx context.Context, base string, n int) (*http.Request, error) {
			return post(ctx, base+"/CollectEvents", "application/json",
				fmt.Appendf(nil, `{"id":"cold-%d-%d","kind":"search","user_id":"u","query":"q","results_count":1}`, stamp, n))
		}},
		{"LoadEvents", "a Pub/Sub push (Storage Write append)", func(ctx context.Context, base string, n int) (*http.Request, error) {
			data := fmt.Appendf(nil, `{"id":"cold-load-%d-%d","kind":"search","user_id":"u","query":"q","results_count":1}`, stamp, n)
			return pushdelivery.PushRequest(ctx, base+"/LoadEvents",
				localstack.PushBody{Message: localstack.PushMessage{Data: data, MessageID: fmt.Sprintf("cold-%d-%d", stamp, n),
					PublishTime: time.Now().UTC().Format(time.RFC3339Nano), Attributes: map[string]string{"source": "app"}},
					Subscription: "projects/" + s.Project + "/subscriptions/events-loader"}, "")
		}},
		{"Backfill", "POST /backfills, a 1-task job (Firestore job, Cloud Tasks create)", func(ctx context.Context, base string, n int) (*http.Request, error) {
			job, err := sizedSpec(s, 1, 1, time.Now().UTC().AddDate(0, 0, -3-n))
			if err != nil {
				return nil, err
			}
			spec, err := localstack.NewRun(job)
			if err != nil {
				return nil, err
			}
			return post(ctx, base+"/Backfill/backfills", "application/json", spec)
		}},
		{"StreamTweets", "POST, a 3 s read window (lease, rule sync, stream, publish)", func(ctx context.Context, base string, n int) (*http.Request, error) {
			return post(ctx, base+"/StreamTweets", "application/json", nil)
		}},
		{"RunBackfillTask", "a held task of a real job (Firestore job, token refresh, API fetch, Storage Write append, outcome commit)", func(ctx context.Context, base string, n int) (*http.Request, error) {
			return taskRequest(ctx, base+"/RunBackfillTask", tasks[n])
		}},
		{"UpdateRankings", "a Pub/Sub push of a search (Firestore group commit)", func(ctx context.Context, base string, n int) (*http.Request, error) {
			data := fmt.Appendf(nil, `{"id":"cold-rank-%d-%d","kind":"search","user_id":"u","query":"cold start","results_count":1}`, stamp, n)
			return pushdelivery.PushRequest(ctx, base+"/UpdateRankings",
				localstack.PushBody{Message: localstack.PushMessage{Data: data, MessageID: fmt.Sprintf("cold-rank-%d-%d", stamp, n),
					PublishTime: time.Now().UTC().Format(time.RFC3339Nano), Attributes: map[string]string{"source": "app", "kind": "search"}},
					Subscription: "projects/" + s.Project + "/subscriptions/events-rankings"}, "")
		}},
		{"ServeRankings", "GET /rankings/search_terms?window=1h (Firestore reads)", func(ctx context.Context, base string, n int) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, base+"/ServeRankings/rankings/search_terms?window=1h", nil)
		}},
	}
}

// coldStart runs bin on a free port with env (nil: a bare environment), sends the request
// request builds until an answer that is not a connection error, and reads the process's
// resident memory once it has answered. An answer other than 2xx is an error unless env is nil
// (the baseline answers whatever it answers).
func coldStart(ctx context.Context, bin string, env map[string]string, request func(base string) (*http.Request, error)) (time.Duration, float64, int, error) {
	port, err := localstack.FreePort()
	if err != nil {
		return 0, 0, 0, err
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "PORT=" + strconv.Itoa(port), "HOST=127.0.0.1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, fmt.Errorf("starting %s: %w", bin, err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	deadline := start.Add(60 * time.Second)
	for {
		req, err := request(base)
		if err != nil {
			return 0, 0, 0, err
		}
		resp, err := client.Do(req)
		if err == nil {
			elapsed := time.Since(start)
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			if env != nil && resp.StatusCode/100 != 2 {
				return 0, 0, resp.StatusCode, fmt.Errorf("%s answered %s: %s", req.URL.Path, resp.Status, bytes.TrimSpace(body))
			}
			mb, err := rssMB(cmd.Process.Pid)
			return elapsed, mb, resp.StatusCode, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, 0, 0, fmt.Errorf("%s did not answer %s within 60s: %w", bin, req.URL, err)
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
	for _, f := range c.Functions {
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f %7.1fx\n", name, fmt.Sprintf("%s: first 2xx, median of %d (ms)", f.Function, len(f.Runs)), f.Ms, c.BaselineMs, f.Ms/c.BaselineMs)
		if len(f.Errors) > 0 {
			fmt.Fprintf(w, "%-20s %-40s %s\n", name, fmt.Sprintf("%s: %d starts failed", f.Function, len(f.Errors)), f.Errors[0])
		}
	}
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "idle RSS after first answer (MB)", c.IdleRSSMB, c.BaselineIdleRSSMB)
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", name, "binary size (MB)", c.BinaryMB, c.BaselineBinaryMB)
}
