package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
)

const testSpec = `{"source":"youtube_analytics","youtube_analytics":{"video_ids":["a","b"],"metrics":["views"],"start":"2024-01-01","end":"2024-12-31","chunk":"month"}}`

func specFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(p, []byte(testSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fast are the flags that make a watch poll without waiting and print every poll.
func fast(url string) []string {
	return []string{"--url", url, "--interval", "1ms", "--progress-every", "0"}
}

func TestStartWatchesToDone(t *testing.T) {
	f := &fakeAPI{statuses: progression("done", 62)}
	srv := newFakeAPI(t, f)
	var stdout, stderr bytes.Buffer
	// run as main calls it: the default transport, the real environment (no token for 127.0.0.1).
	code := run(t.Context(), append(fast(srv.URL), "start", specFile(t)), &stdout, &stderr)
	if code != exitOK {
		t.Errorf("start exit = %d, want %d; stderr:\n%s", code, exitOK, stderr.String())
	}
	wantOut := `job yt-0123abcd: done
  tasks      62 planned, 62 succeeded, 0 failed, 0 cancelled
  rows       620
  API calls  62
  elapsed    4m44s
`
	if diff := cmp.Diff(wantOut, stdout.String()); diff != "" {
		t.Errorf("start stdout (-want +got):\n%s", diff)
	}
	wantErr := `job yt-0123abcd created: 62 tasks, about 62 API calls, planning
[..................]   0%  0/62 done  0 failed  0 retrying  0.0 tasks/s  planning
[#######...........]  38%  24/62 done  0 failed  2 retrying  512.3 tasks/s  ETA 2m28s
[##############....]  79%  49/62 done  0 failed  1 retrying  512.3 tasks/s  ETA 2m28s
[##################] 100%  62/62 done  0 failed  0 retrying  0.0 tasks/s
`
	if diff := cmp.Diff(wantErr, stderr.String()); diff != "" {
		t.Errorf("start stderr (-want +got):\n%s", diff)
	}
	reqs := f.seen()
	if len(reqs) != 5 {
		t.Fatalf("requests = %+v, want 1 POST and 4 GETs", reqs)
	}
	if diff := cmp.Diff(fakeRequest{Method: "POST", Path: "/backfills", Body: testSpec}, reqs[0]); diff != "" {
		t.Errorf("first request (-want +got):\n%s", diff)
	}
	for _, r := range reqs[1:] {
		if diff := cmp.Diff(fakeRequest{Method: "GET", Path: "/backfills/" + testJob}, r); diff != "" {
			t.Errorf("poll (-want +got):\n%s", diff)
		}
	}
}

func TestJSONPrintsTheFinalStatusLast(t *testing.T) {
	for _, cmd := range [][]string{{"start", "--spec", testSpec}, {"watch", testJob}} {
		t.Run(cmd[0], func(t *testing.T) {
			statuses := progression("done_with_failures", 62)
			srv := newFakeAPI(t, &fakeAPI{statuses: statuses})
			a, stdout, stderr := testApp(t, srv)
			code := a.run(t.Context(), append(append(fast(srv.URL), "--json"), cmd...))
			if code != exitFailures {
				t.Errorf("%v --json exit = %d, want %d; stderr:\n%s", cmd, code, exitFailures, stderr)
			}
			lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
			if len(lines) != 1 {
				t.Errorf("%v --json stdout has %d lines, want 1:\n%s", cmd, len(lines), stdout)
			}
			var got backfill.Status
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
				t.Fatalf("last line of stdout %q: %v", lines[len(lines)-1], err)
			}
			if diff := cmp.Diff(statuses[len(statuses)-1], got); diff != "" {
				t.Errorf("--json final status (-want +got):\n%s", diff)
			}
			if !strings.Contains(stderr.String(), "job yt-0123abcd: done_with_failures") {
				t.Errorf("--json stderr lacks the summary:\n%s", stderr)
			}
		})
	}
}

func TestEndStates(t *testing.T) {
	tests := []struct {
		final string
		code  int
		want  []string // lines the summary must hold
	}{
		{"done", exitOK, []string{"job yt-0123abcd: done"}},
		{"done_with_failures", exitFailures, []string{
			"job yt-0123abcd: done_with_failures",
			"  tasks      62 planned, 59 succeeded, 3 failed, 0 cancelled",
			"failures by cause (3 failed):",
			"       2  quotaExceeded: video=a/2024-01-01..2024-01-31, video=b/2024-01-01..2024-01-31",
			"       1  http 404: video=gone/2024-01-01..2024-01-31",
		}},
		{"blocked", exitBlocked, []string{
			"job yt-0123abcd: blocked",
			"  blocked    youtube analytics token revoked: invalid_grant",
		}},
		{"cancelled", exitCancelled, []string{
			"job yt-0123abcd: cancelled",
			"  tasks      62 planned, 31 succeeded, 0 failed, 31 cancelled",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.final, func(t *testing.T) {
			srv := newFakeAPI(t, &fakeAPI{statuses: progression(tt.final, 62)})
			a, stdout, stderr := testApp(t, srv)
			if code := a.run(t.Context(), append(fast(srv.URL), "watch", testJob)); code != tt.code {
				t.Errorf("watch ending %s exit = %d, want %d; stderr:\n%s", tt.final, code, tt.code, stderr)
			}
			lines := strings.Split(stdout.String(), "\n")
			for _, w := range tt.want {
				if !contains(lines, w) {
					t.Errorf("watch ending %s: stdout lacks line %q:\n%s", tt.final, w, stdout)
				}
			}
		})
	}
}

func contains(lines []string, line string) bool {
	for _, l := range lines {
		if l == line {
			return true
		}
	}
	return false
}

func TestServerErrors(t *testing.T) {
	tests := []struct {
		name   string
		answer fakeAnswer
		want   string
	}{
		{"400 with field", fakeAnswer{400, `{"error":"end is after yesterday","field":"youtube_analytics.end"}`},
			"backfill: starting the backfill: POST /backfills: 400 Bad Request: end is after yesterday (field youtube_analytics.end)\n"},
		{"413 plain text", fakeAnswer{413, "request entity too large\n"},
			"backfill: starting the backfill: POST /backfills: 413 Request Entity Too Large: request entity too large\n"},
		{"415", fakeAnswer{415, `{"error":"Content-Type must be application/json"}`},
			"backfill: starting the backfill: POST /backfills: 415 Unsupported Media Type: Content-Type must be application/json\n"},
		{"403", fakeAnswer{403, `{"error":"forbidden"}`},
			"backfill: starting the backfill: POST /backfills: 403 Forbidden: forbidden (is the identity allowed to invoke the function: roles/run.invoker?)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{statuses: progression("done", 1), createErr: &tt.answer}
			srv := newFakeAPI(t, f)
			a, stdout, stderr := testApp(t, srv)
			if code := a.run(t.Context(), append(fast(srv.URL), "start", "--spec", testSpec)); code != exitError {
				t.Errorf("start answered %d: exit = %d, want %d", tt.answer.code, code, exitError)
			}
			if diff := cmp.Diff(tt.want, stderr.String()); diff != "" {
				t.Errorf("start answered %d: stderr (-want +got):\n%s", tt.answer.code, diff)
			}
			if stdout.Len() != 0 {
				t.Errorf("start answered %d: stdout = %q, want nothing", tt.answer.code, stdout)
			}
			if n := len(f.seen()); n != 1 {
				t.Errorf("start answered %d: %d requests, want 1 (no polls)", tt.answer.code, n)
			}
		})
	}
}

func TestWatchUnknownJobFails(t *testing.T) {
	srv := newFakeAPI(t, &fakeAPI{statuses: progression("done", 1)})
	a, _, stderr := testApp(t, srv)
	if code := a.run(t.Context(), append(fast(srv.URL), "watch", "nope")); code != exitError {
		t.Errorf("watch nope exit = %d, want %d", code, exitError)
	}
	if want := "404 Not Found: no backfill job nope"; !strings.Contains(stderr.String(), want) {
		t.Errorf("watch nope stderr = %q, want it to contain %q", stderr, want)
	}
}

func TestDryRunPrintsThePlan(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"flag", []string{"--dry-run", "start", "-"}},
		{"in the spec", []string{"start", "--spec", `{"source":"youtube_analytics","dry_run":true}`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{statuses: progression("done", 1)}
			srv := newFakeAPI(t, f)
			a, stdout, stderr := testApp(t, srv)
			a.stdin = strings.NewReader(testSpec)
			if code := a.run(t.Context(), append(fast(srv.URL), tt.args...)); code != exitOK {
				t.Errorf("%v exit = %d, want 0; stderr:\n%s", tt.args, code, stderr)
			}
			want := `plan for job yt-0123abcd (dry run, nothing created): 62 tasks, about 62 API calls
chunks (2):
  2024-01-01..2024-01-31
  2024-02-01..2024-02-29
sample tasks (1):
  video=a/2024-01-01..2024-01-31
`
			if diff := cmp.Diff(want, stdout.String()); diff != "" {
				t.Errorf("%v stdout (-want +got):\n%s", tt.args, diff)
			}
			reqs := f.seen()
			if len(reqs) != 1 || reqs[0].Method != "POST" || reqs[0].Path != "/backfills" {
				t.Fatalf("%v requests = %+v, want one POST /backfills", tt.args, reqs)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil {
				t.Fatalf("%v POST body %q: %v", tt.args, reqs[0].Body, err)
			}
			if body["dry_run"] != true || body["source"] != "youtube_analytics" {
				t.Errorf("%v POST body = %v, want the spec with dry_run true", tt.args, body)
			}
		})
	}
}

func TestRetryAndCancel(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want []fakeRequest
		out  string // a line stdout must hold
	}{
		{[]string{"retry", "--no-wait", testJob}, exitOK,
			[]fakeRequest{{Method: "POST", Path: "/backfills/" + testJob + ":retry"}}, ""},
		{[]string{"retry", "--no-wait", "--json", testJob}, exitOK,
			[]fakeRequest{{Method: "POST", Path: "/backfills/" + testJob + ":retry"}},
			`{"job_id":"yt-0123abcd","retried":3,"status_url":"/backfills/yt-0123abcd"}`},
		{[]string{"retry", testJob}, exitOK, []fakeRequest{
			{Method: "POST", Path: "/backfills/" + testJob + ":retry"},
			{Method: "GET", Path: "/backfills/" + testJob},
		}, "job yt-0123abcd: done"},
		{[]string{"cancel", testJob}, exitOK,
			[]fakeRequest{{Method: "POST", Path: "/backfills/" + testJob + ":cancel"}}, "job yt-0123abcd: cancelled"},
		{[]string{"status", testJob}, exitOK,
			[]fakeRequest{{Method: "GET", Path: "/backfills/" + testJob}}, "job yt-0123abcd: done"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := &fakeAPI{statuses: progression("done", 62)[3:]}
			srv := newFakeAPI(t, f)
			a, stdout, stderr := testApp(t, srv)
			if code := a.run(t.Context(), append(fast(srv.URL), tt.args...)); code != tt.code {
				t.Errorf("%v exit = %d, want %d; stderr:\n%s", tt.args, code, tt.code, stderr)
			}
			if diff := cmp.Diff(tt.want, f.seen()); diff != "" {
				t.Errorf("%v requests (-want +got):\n%s", tt.args, diff)
			}
			if tt.out != "" && !contains(strings.Split(stdout.String(), "\n"), tt.out) {
				t.Errorf("%v stdout lacks %q:\n%s", tt.args, tt.out, stdout)
			}
		})
	}
}

func TestStatusExitsWithTheStateCode(t *testing.T) {
	for _, tt := range []struct {
		final string
		code  int
	}{{"running", exitOK}, {"done_with_failures", exitFailures}, {"blocked", exitBlocked}} {
		statuses := progression(tt.final, 62)
		if tt.final == "running" {
			statuses = statuses[1:2]
		} else {
			statuses = statuses[3:]
		}
		srv := newFakeAPI(t, &fakeAPI{statuses: statuses})
		a, stdout, _ := testApp(t, srv)
		if code := a.run(t.Context(), append(fast(srv.URL), "status", testJob)); code != tt.code {
			t.Errorf("status of a %s job exit = %d, want %d", tt.final, code, tt.code)
		}
		if want := "job yt-0123abcd: " + tt.final; !strings.Contains(stdout.String(), want) {
			t.Errorf("status of a %s job: stdout lacks %q:\n%s", tt.final, want, stdout)
		}
	}
}

func TestPollFailuresAreRetried(t *testing.T) {
	f := &fakeAPI{statuses: progression("done", 62), failPolls: 2}
	srv := newFakeAPI(t, f)
	a, _, stderr := testApp(t, srv)
	if code := a.run(t.Context(), append(fast(srv.URL), "watch", testJob)); code != exitOK {
		t.Errorf("watch with 2 failed polls exit = %d, want 0; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{
		"polling job yt-0123abcd failed (attempt 1), retrying in 1ms: GET /backfills/yt-0123abcd: 503 Service Unavailable: instance starting\n",
		"polling job yt-0123abcd failed (attempt 2), retrying in 2ms: ",
		"malformed HTTP",
		"polling job yt-0123abcd works again after 2 failed attempts",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("watch stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestPollsFailingTooLongGiveUp(t *testing.T) {
	f := &fakeAPI{statuses: progression("done", 62), failPolls: 1 << 20}
	srv := newFakeAPI(t, f)
	a, _, stderr := testApp(t, srv)
	a.maxOutage = 20 * time.Millisecond
	if code := a.run(t.Context(), append(fast(srv.URL), "watch", testJob)); code != exitError {
		t.Errorf("watch with polls always failing exit = %d, want %d", code, exitError)
	}
	if want := "backfill: watching job yt-0123abcd: polls failing for"; !strings.Contains(stderr.String(), want) {
		t.Errorf("watch stderr lacks %q:\n%s", want, stderr)
	}
}

func TestTimeout(t *testing.T) {
	srv := newFakeAPI(t, &fakeAPI{statuses: progression("running", 62)[1:2]})
	a, _, stderr := testApp(t, srv)
	if code := a.run(t.Context(), append(fast(srv.URL), "--timeout", "30ms", "watch", testJob)); code != exitTimeout {
		t.Errorf("watch --timeout 30ms of a running job exit = %d, want %d; stderr:\n%s", code, exitTimeout, stderr)
	}
	if want := "go run ./scripts/backfill watch yt-0123abcd): timed out (the job keeps running)\n"; !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("watch --timeout stderr = %q, want it to end with %q", stderr, want)
	}
}

func TestTerminalRedrawsTheBar(t *testing.T) {
	srv := newFakeAPI(t, &fakeAPI{statuses: progression("done", 62)[2:]})
	a, _, stderr := testApp(t, srv)
	a.tty = true
	if code := a.run(t.Context(), append(fast(srv.URL), "watch", testJob)); code != exitOK {
		t.Errorf("watch exit = %d, want 0", code)
	}
	want := "\r[##############....]  79%  49/62 done  0 failed  1 retrying  512.3 tasks/s  ETA 2m28s\x1b[K" +
		"\r[##################] 100%  62/62 done  0 failed  0 retrying  0.0 tasks/s\x1b[K\n"
	if diff := cmp.Diff(want, stderr.String()); diff != "" {
		t.Errorf("watch on a terminal: stderr (-want +got):\n%s", diff)
	}
}

func TestPlainProgressIsThrottled(t *testing.T) {
	srv := newFakeAPI(t, &fakeAPI{statuses: progression("done", 62)})
	a, _, stderr := testApp(t, srv)
	now := testCreated
	a.now = func() time.Time { now = now.Add(time.Second); return now } // each call a second later
	args := []string{"--url", srv.URL, "--interval", "1ms", "--progress-every", "1h", "watch", testJob}
	if code := a.run(t.Context(), args); code != exitOK {
		t.Errorf("watch exit = %d, want 0", code)
	}
	// The first poll and the last, not the two in between.
	want := "[..................]   0%  0/62 done  0 failed  0 retrying  0.0 tasks/s  planning\n" +
		"[##################] 100%  62/62 done  0 failed  0 retrying  0.0 tasks/s\n"
	if diff := cmp.Diff(want, stderr.String()); diff != "" {
		t.Errorf("watch --progress-every 1h: stderr (-want +got):\n%s", diff)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "backfill: no command"},
		{[]string{"status", "x"}, "backfill: no --url (or BACKFILL_URL)"},
		{[]string{"--url", "http://127.0.0.1:1", "frobnicate", "x"}, `backfill: unknown command "frobnicate"`},
		{[]string{"--url", "http://127.0.0.1:1", "start"}, "backfill: start needs SPEC.json, - or --spec, and only one of them"},
		{[]string{"--url", "http://127.0.0.1:1", "start", "a.json", "--spec", "{}"}, "backfill: start needs SPEC.json, - or --spec, and only one of them"},
		{[]string{"--url", "http://127.0.0.1:1", "watch"}, "backfill: watch needs exactly one JOB_ID"},
		{[]string{"--url", "http://127.0.0.1:1", "--bogus", "watch", "x"}, "backfill: flag provided but not defined: -bogus"},
		{[]string{"--url", "ftp://x", "watch", "x"}, `backfill: --url "ftp://x" is not an http(s) URL`},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tt.args, &stdout, &stderr); code != exitUsage {
			t.Errorf("run(%q) = %d, want %d", tt.args, code, exitUsage)
		}
		if first, _, _ := strings.Cut(stderr.String(), "\n"); first != tt.want {
			t.Errorf("run(%q) stderr first line = %q, want %q", tt.args, first, tt.want)
		}
		if !strings.Contains(stderr.String(), "usage: go run ./scripts/backfill") {
			t.Errorf("run(%q) stderr lacks the usage text", tt.args)
		}
	}
}

func TestURLFromEnvironment(t *testing.T) {
	srv := newFakeAPI(t, &fakeAPI{statuses: progression("done", 62)[3:]})
	a, stdout, stderr := testApp(t, srv)
	a.getenv = func(k string) string {
		if k == "BACKFILL_URL" {
			return srv.URL + "/"
		}
		return ""
	}
	if code := a.run(t.Context(), []string{"status", testJob}); code != exitOK {
		t.Errorf("status with BACKFILL_URL exit = %d, want 0; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout.String(), "job yt-0123abcd: done") {
		t.Errorf("status with BACKFILL_URL stdout = %q, want the summary", stdout)
	}
}

func TestBadSpec(t *testing.T) {
	for _, spec := range []string{"not json", "[1,2]", "null", `{"dry_run":"yes"}`} {
		f := &fakeAPI{statuses: progression("done", 1)}
		srv := newFakeAPI(t, f)
		a, _, stderr := testApp(t, srv)
		if code := a.run(t.Context(), append(fast(srv.URL), "start", "--spec", spec)); code != exitError {
			t.Errorf("start --spec %q exit = %d, want %d", spec, code, exitError)
		}
		if !strings.HasPrefix(stderr.String(), "backfill: reading the spec") {
			t.Errorf("start --spec %q stderr = %q, want a spec error", spec, stderr)
		}
		if n := len(f.seen()); n != 0 {
			t.Errorf("start --spec %q made %d requests, want 0", spec, n)
		}
	}
}
