package pipelinekit_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
	"github.com/pipelinekit/pipelinekit/shared/topology"
)

// noCloud is what every Google API call answers in this test: a function that passes it on got
// past decoding its request and went on to its work.
const noCloud = "no cloud in this test"

const (
	project = "triggers-test"
	topic   = "projects/" + project + "/topics/events"
)

// trigger is one request a function receives in production, or a malformed one of that shape.
type trigger struct {
	name string
	fn   string // entry point
	req  func(ctx context.Context, base string) (*http.Request, error)
	// refused: a malformed request, which must be answered 4xx. Otherwise the request must not
	// be answered 4xx: that is a refusal of a shape its trigger sends.
	refused bool
	// status, when set, is the exact status.
	status int
	// names is a text the answer must contain: the problem of a refused request, or what shows
	// that an accepted one was decoded and went on to its work (for most, noCloud).
	names string
}

// TestEveryTriggerShapeThroughFunctionsFramework serves each function alone through the real
// Functions Framework (the functions binary with FUNCTION_TARGET, at "/", as Cloud Functions
// serves it) against no cloud, and sends it every request shape its trigger sends in production,
// built as the services build them (shared/pushdelivery), and a malformed one of each shape. A
// change of registration (HTTP or CloudEvent) or of decoding that refuses a production shape
// fails here.
func TestEveryTriggerShapeThroughFunctionsFramework(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and starts the functions binary")
	}
	start := time.Now()
	ctx := t.Context()
	bin := buildFunctions(t)
	t.Logf("built ./scripts/functions in %s", time.Since(start).Round(time.Millisecond))
	cloud := refuseEveryCall(t)
	env := map[string]string{
		"GOOGLE_CLOUD_PROJECT":      project,
		"FIRESTORE_EMULATOR_HOST":   cloud,
		"PUBSUB_EMULATOR_HOST":      cloud,
		"BIGQUERY_EMULATOR_HOST":    cloud,
		"CLOUD_TASKS_EMULATOR_HOST": cloud,
		"BIGQUERY_DATASET":          "events",
		"EVENTS_TOPIC":              "events",
		"JOB_EVENTS_TOPIC":          "backfill-job-events",
		"BACKFILL_QUEUE":            "projects/" + project + "/locations/us-central1/queues/backfill",
		"WORKER_URL":                "http://127.0.0.1:1/", // Backfill only enqueues to it
		"BACKFILL_URL":              "http://127.0.0.1:1/",
		"X_BEARER_TOKEN":            "test-token",
		"LEASE_WAIT":                "0s",
	}
	fns := startEach(t, bin, env, "LoadEvents", "UpdateRankings", "RunBackfillTask", "Backfill", "StreamTweets", "CollectEvents", "ServeRankings")
	t.Logf("built and started %d functions in %s", len(fns), time.Since(start).Round(time.Millisecond))

	sweepMethod, sweepPath := schedulerTarget(t, "backfill-sweep", "Backfill")
	streamMethod, streamPath := schedulerTarget(t, "stream-tweets", "StreamTweets")
	now := time.Now().UTC()
	var cases []trigger
	for _, fn := range []string{"LoadEvents", "UpdateRankings"} {
		cases = append(cases, pubsubTriggers(fn, now)...)
	}
	taskBody := []byte(`{"job_id":"bf-0123456789abcdef","shard":"id=1","index":0,"source":"http_json","http_json":{"URL":"https://api.example.com/1"}}`)
	attempt := pushdelivery.TaskAttempt{Queue: "backfill", Task: "bf-0123456789abcdef-0", ETA: now,
		Headers: map[string]string{"Content-Type": "application/json"}} // as functions/backfill enqueues
	cases = append(cases,
		trigger{name: "Cloud Tasks task", fn: "RunBackfillTask", names: noCloud, req: func(ctx context.Context, base string) (*http.Request, error) {
			return pushdelivery.CloudTasksRequest(ctx, base+"/", http.MethodPost, taskBody, attempt, "oidc")
		}},
		// Answered 200, not 4xx, on purpose: Cloud Tasks retries every other status until
		// max_attempts, and a body that names no task would fail the same way each time
		// (functions/runbackfilltask/decide.go). The answer still says what is wrong.
		trigger{name: "Cloud Tasks task naming no shard", fn: "RunBackfillTask", status: http.StatusOK, names: "malformed task",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return pushdelivery.CloudTasksRequest(ctx, base+"/", http.MethodPost, []byte(`{"job_id":"bf-0123456789abcdef"}`), attempt, "oidc")
			}},
		trigger{name: "Cloud Tasks expansion task", fn: "Backfill", names: noCloud, req: func(ctx context.Context, base string) (*http.Request, error) {
			return pushdelivery.CloudTasksRequest(ctx, base+"/backfills/bf-0123456789abcdef:expand", http.MethodPost, []byte(`{"from":0,"to":10}`), attempt, "oidc")
		}},
		trigger{name: "Cloud Tasks expansion task, body not JSON", fn: "Backfill", refused: true, names: "the body must be",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return pushdelivery.CloudTasksRequest(ctx, base+"/backfills/bf-0123456789abcdef:expand", http.MethodPost, []byte(`from 0 to 10`), attempt, "oidc")
			}},
		trigger{name: "Cloud Scheduler sweep", fn: "Backfill", names: noCloud, req: func(ctx context.Context, base string) (*http.Request, error) {
			return pushdelivery.SchedulerRequest(ctx, base+sweepPath, sweepMethod, nil, pushdelivery.SchedulerJob{Name: "backfill-sweep", ScheduleTime: now}, "oidc")
		}},
		trigger{name: "Cloud Scheduler sweep with another method", fn: "Backfill", refused: true, status: http.StatusMethodNotAllowed, names: "use POST",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return pushdelivery.SchedulerRequest(ctx, base+sweepPath, http.MethodGet, nil, pushdelivery.SchedulerJob{Name: "backfill-sweep", ScheduleTime: now}, "oidc")
			}},
		// StreamTweets reads neither method nor body: any request starts a run, so it has no
		// malformed request to refuse.
		trigger{name: "Cloud Scheduler run", fn: "StreamTweets", names: noCloud, req: func(ctx context.Context, base string) (*http.Request, error) {
			return pushdelivery.SchedulerRequest(ctx, base+streamPath, streamMethod, nil, pushdelivery.SchedulerJob{Name: "stream-tweets", ScheduleTime: now}, "oidc")
		}},
		// The answer keeps the publish error to the log, and says what to do instead.
		trigger{name: "app events", fn: "CollectEvents", names: "publishing failed", req: func(ctx context.Context, base string) (*http.Request, error) {
			return plain(ctx, http.MethodPost, base+"/", "application/json", `[{"id":"s1","kind":"search","query":"red shoes"}]`)
		}},
		trigger{name: "app events, truncated JSON", fn: "CollectEvents", refused: true, status: http.StatusBadRequest, names: "not a well-formed JSON",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return plain(ctx, http.MethodPost, base+"/", "application/json", `[{"id":"s1","kind":`)
			}},
		// navigator.sendBeacon's string body: text/plain, read as JSON (docs/collect.md).
		trigger{name: "app events as a beacon's text", fn: "CollectEvents", names: "publishing failed",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return plain(ctx, http.MethodPost, base+"/", "text/plain;charset=UTF-8", `{"id":"s1","kind":"search","query":"q"}`)
			}},
		trigger{name: "app events as CSV", fn: "CollectEvents", refused: true, status: http.StatusUnsupportedMediaType,
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return plain(ctx, http.MethodPost, base+"/", "text/csv", `id,kind,query`)
			}},
		// ServeRankings keeps the store's error in its log and answers a generic 503: that answer
		// shows the request was decoded and reached the store.
		trigger{name: "ranking", fn: "ServeRankings", names: "rankings are unavailable", req: func(ctx context.Context, base string) (*http.Request, error) {
			return plain(ctx, http.MethodGet, base+"/rankings/hashtags?window=1h", "", "")
		}},
		trigger{name: "ranking of an unknown window", fn: "ServeRankings", refused: true, status: http.StatusBadRequest, names: "window",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return plain(ctx, http.MethodGet, base+"/rankings/hashtags?window=2y", "", "")
			}},
	)

	client := &http.Client{Timeout: 30 * time.Second} // a hang fails, not the whole run
	for _, tc := range cases {
		t.Run(tc.fn+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := tc.req(ctx, fns[tc.fn].url)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v\n%s logs:\n%s", req.Method, req.URL.Path, err, tc.fn, fns[tc.fn].logs)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answer := fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
			switch {
			case tc.status != 0 && resp.StatusCode != tc.status:
				t.Errorf("%s answered %s, want %d", tc.fn, answer, tc.status)
			case tc.refused && resp.StatusCode/100 != 4:
				t.Errorf("%s answered %s, want a 4xx refusal", tc.fn, answer)
			case !tc.refused && resp.StatusCode/100 == 4:
				t.Errorf("%s refused a request its trigger sends: %s", tc.fn, answer)
			}
			if !strings.Contains(string(b), tc.names) {
				t.Errorf("%s answered %s, want it to name %q", tc.fn, answer, tc.names)
			}
			t.Logf("%s %s → %.200s", req.Method, req.URL.RequestURI(), answer)
		})
	}
	t.Cleanup(func() { t.Logf("whole test: %s", time.Since(start).Round(time.Millisecond)) })
}

// pubsubTriggers are the shapes a Pub/Sub message reaches fn in, and a malformed one of each:
// Terraform's plain push subscription (to the endpoint it configures, /projects/P/topics/T),
// Eventarc's binary CloudEvent and a structured CloudEvent (both to "/").
func pubsubTriggers(fn string, now time.Time) []trigger {
	body := pushdelivery.PushBody{
		Message: pushdelivery.PushMessage{Data: []byte(`{"id":"s1","kind":"search","query":"red shoes"}`),
			Attributes: map[string]string{"kind": "search", "source": "app"}, MessageID: "m-" + fn, PublishTime: now.Format(time.RFC3339Nano)},
		Subscription: "projects/" + project + "/subscriptions/" + fn,
	}
	pushURL := func(base string) string { return base + "/" + topic }
	return []trigger{
		{name: "push subscription", fn: fn, names: noCloud, req: func(ctx context.Context, base string) (*http.Request, error) {
			return pushdelivery.PushRequest(ctx, pushURL(base), body, "oidc")
		}},
		{name: "Eventarc binary CloudEvent", fn: fn, names: noCloud, req: func(ctx context.Context, base string) (*http.Request, error) {
			return pushdelivery.BinaryCloudEventRequest(ctx, base+"/", topic, body, "oidc")
		}},
		{name: "structured CloudEvent", fn: fn, names: noCloud, req: func(ctx context.Context, base string) (*http.Request, error) {
			return pushdelivery.StructuredCloudEventRequest(ctx, base+"/", topic, body, "oidc")
		}},
		// A push body is never refused for what it holds (the loader dead-letters it): its
		// malformed cases are the ones no push subscription sends.
		{name: "push body over the bound", fn: fn, refused: true, status: http.StatusBadRequest, names: "push body over",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return plain(ctx, http.MethodPost, pushURL(base), "application/json", strings.Repeat(" ", pushdelivery.MaxRequestBytes+1))
			}},
		{name: "push endpoint GET", fn: fn, refused: true, status: http.StatusMethodNotAllowed, names: "POST only",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return plain(ctx, http.MethodGet, pushURL(base), "", "")
			}},
		{name: "binary CloudEvent without ce-type", fn: fn, refused: true, status: http.StatusBadRequest, names: "type",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				req, err := pushdelivery.BinaryCloudEventRequest(ctx, base+"/", topic, body, "oidc")
				if err == nil {
					req.Header.Del("Ce-Type")
				}
				return req, err
			}},
		{name: "structured CloudEvent without id", fn: fn, refused: true, status: http.StatusBadRequest, names: "id",
			req: func(ctx context.Context, base string) (*http.Request, error) {
				return plain(ctx, http.MethodPost, base+"/", "application/cloudevents+json",
					`{"specversion":"1.0","type":"`+pushdelivery.MessagePublishedType+`","source":"//pubsub.googleapis.com/`+topic+`","data":{}}`)
			}},
	}
}

// plain is a request as an app, a browser or a misconfigured sender makes it.
func plain(ctx context.Context, method, url, contentType, body string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err == nil && contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, err
}

// buildFunctions compiles scripts/functions, the process that serves the functions through the
// Functions Framework. (Not shared/localstack's helper: that package would link DuckDB into this
// test binary.)
func buildFunctions(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "functions")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./scripts/functions").CombinedOutput()
	if err != nil {
		t.Fatalf("building ./scripts/functions: %v\n%s", err, out)
	}
	return bin
}

// refuseEveryCall serves every gRPC method of every Google API with PermissionDenied, which no
// client retries: the functions' calls fail at once instead of waiting on a closed port.
func refuseEveryCall(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		return status.Error(codes.PermissionDenied, noCloud)
	}))
	go srv.Serve(l) //nolint:errcheck // ends with Stop
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// function is one running function process.
type function struct {
	url  string
	logs *functest.Buffer
}

// startEach starts one functions process per entry point, each serving only that function
// (FUNCTION_TARGET) with env, all at once, and waits until all of them accept connections.
func startEach(t *testing.T, bin string, env map[string]string, entryPoints ...string) map[string]*function {
	t.Helper()
	fns := map[string]*function{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(entryPoints))
	for _, name := range entryPoints {
		wg.Go(func() {
			fn, err := startOne(t, bin, name, env)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			fns[name] = fn
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	return fns
}

func startOne(t *testing.T, bin, name string, env map[string]string) (*function, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "FUNCTION_TARGET="+name, "HOST=127.0.0.1", "PORT="+strconv.Itoa(port), "K_SERVICE=")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	fn := &function{url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &functest.Buffer{}}
	cmd.Stdout, cmd.Stderr = fn.logs, fn.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() //nolint:errcheck // the logs say why it ended
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			conn.Close()
			return fn, nil
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("%s exited before serving:\n%s", name, fn.logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s did not serve within 30 s: %v\n%s", name, err, fn.logs)
		}
	}
}

// schedulerTarget is the Cloud Scheduler job's http_target as Terraform's plan has it
// (shared/topology): its method and the path it adds to the URL of the function entryPoint. A job
// with a body or headers fails the test, which would then have to send them too.
func schedulerTarget(t *testing.T, job, entryPoint string) (method, path string) {
	t.Helper()
	topo, err := topology.Load()
	if err != nil {
		t.Fatal(err)
	}
	j, ok := topo.SchedulerJob(job)
	switch {
	case !ok:
		t.Fatalf("terraform declares no scheduler job %q", job)
	case j.HTTP.Target.Function != entryPoint:
		t.Fatalf("scheduler job %s calls %q, not %s", job, j.HTTP.Target.Function, entryPoint)
	case j.HTTP.Body != "" || len(j.HTTP.Headers) > 0:
		t.Fatalf("scheduler job %s has a body or headers: send them too", job)
	}
	return j.HTTP.Method, j.HTTP.Target.Path
}
