package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
	"github.com/pipelinekit/pipelinekit/shared/firestorereads"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

func TestMain(m *testing.M) {
	// See TestEntryPointRegistered. As the local stack's functions process must: the framework
	// serves /Backfill exactly, so Serve is registered on the subtree too.
	functest.ServeChildIfAsked(func() error {
		if err := funcframework.RegisterHTTPFunctionContext(context.Background(), "/"+EntryPoint+"/", Serve); err != nil {
			return fmt.Errorf("registering %s/: %w", EntryPoint, err)
		}
		return nil
	})
	os.Exit(gcloudemu.Main(m, gcloudemu.Firestore))
}

const (
	testLocation = "projects/test-project/locations/us-central1"
	testQueue    = testLocation + "/queues/backfill"
	testAccount  = "backfill-tasks@test-project.iam.gserviceaccount.com"
	// testControlQueue is the control queue of a harness with control set.
	testControlQueue = testLocation + "/queues/backfill-control"
)

// today is the service's clock: specs' dates must be before it.
var today = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

// harness is the function on an httptest server, with the Cloud Tasks emulator as its queue,
// the Firestore emulator as its store and a fake worker that answers 200 and records requests.
type harness struct {
	cfg    Config
	tasks  *tasksemulator.Server
	client *cloudtasks.Client
	store  *backfill.Store
	enq    *taskqueue.Enqueuer
	// queueNames are every queue of the harness, testQueue first.
	queueNames []string
	fn         *httptest.Server
	svc        *Service
	worker     *worker
	logs       *functest.Buffer
	limits     backfill.Limits
	// reads counts the Firestore documents the function's store reads.
	reads   *firestorereads.Counter
	fs      *firestore.Client
	nonceMu sync.Mutex
	nonces  int
}

type harnessOptions struct {
	slice    int
	maxTasks int
	paused   bool // the queue does not dispatch: tasks stay to be inspected
	// sweepAfter and sweepMaxAttempts are the sweep's settings (0 and 2 when unset: a sweep
	// always looks, and fails a shard after 2 sweep tasks).
	sweepAfter       time.Duration
	sweepMaxAttempts int
	// clock, when set, is the store's clock and the sweep's (default time.Now).
	clock func() time.Time
	// queues is how many backfill queues (default 1): testQueue, testQueue-1, ...
	queues int
	// control gives the function a control queue (testControlQueue) with controlRetry, running
	// even when paused is set.
	control      bool
	controlRetry *cloudtaskspb.RetryConfig
	// workerRetry is the worker queues' retry config (default: the emulator's).
	workerRetry *cloudtaskspb.RetryConfig
	// tasksClock is the Cloud Tasks emulator's clock (default the wall clock).
	tasksClock tasksemulator.Clock
	// wrap, when set, wraps the function's handler (to fail some requests).
	wrap func(http.Handler) http.Handler
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	h := &harness{worker: &worker{}}
	var logger *slog.Logger
	logger, h.logs = functest.Logger()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("function logs:\n%s", h.logs)
		}
	})

	topts := []tasksemulator.Option{tasksemulator.WithLogger(slog.New(slog.DiscardHandler))}
	if o.tasksClock != nil {
		topts = append(topts, tasksemulator.WithClock(o.tasksClock))
	}
	srv, err := tasksemulator.NewServer(topts...)
	if err != nil {
		t.Fatalf("tasksemulator.NewServer() = %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	h.tasks = srv
	h.client, err = cloudtasks.NewClient(context.Background(), taskqueue.EmulatorOptions(srv.Addr())...)
	if err != nil {
		t.Fatalf("cloudtasks.NewClient() = %v", err)
	}
	t.Cleanup(func() { h.client.Close() })
	h.queueNames = []string{testQueue}
	for n := 1; n < o.queues; n++ {
		h.queueNames = append(h.queueNames, fmt.Sprintf("%s-%d", testQueue, n))
	}
	for _, q := range h.queueNames {
		if _, err := h.client.CreateQueue(t.Context(), &cloudtaskspb.CreateQueueRequest{Parent: testLocation,
			Queue: &cloudtaskspb.Queue{Name: q, RetryConfig: o.workerRetry}}); err != nil {
			t.Fatalf("CreateQueue() = %v", err)
		}
		if o.paused {
			if _, err := h.client.PauseQueue(t.Context(), &cloudtaskspb.PauseQueueRequest{Name: q}); err != nil {
				t.Fatalf("PauseQueue() = %v", err)
			}
		}
	}

	if o.control {
		if _, err := h.client.CreateQueue(t.Context(), &cloudtaskspb.CreateQueueRequest{Parent: testLocation,
			Queue: &cloudtaskspb.Queue{Name: testControlQueue, RetryConfig: o.controlRetry}}); err != nil {
			t.Fatalf("CreateQueue(%s) = %v", testControlQueue, err)
		}
	}

	h.reads = &firestorereads.Counter{}
	fsOpts, err := h.reads.Options()
	if err != nil {
		t.Fatalf("counting Firestore reads: %v", err)
	}
	fs, err := firestore.NewClient(context.Background(), gcloudemu.NewProjectID(t), fsOpts...)
	if err != nil {
		t.Fatalf("firestore.NewClient() = %v", err)
	}
	t.Cleanup(func() { fs.Close() })
	h.fs = fs

	workerSrv := httptest.NewServer(h.worker)
	t.Cleanup(workerSrv.Close)
	var handler http.Handler
	h.fn = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(h.fn.Close)

	if o.maxTasks == 0 {
		o.maxTasks = DefaultMaxTasks
	}
	if o.slice == 0 {
		o.slice = DefaultEnqueueSlice
	}
	h.cfg = Config{
		Project: "test-project", Queue: testQueue, Queues: h.queueNames, WorkerURL: workerSrv.URL + "/run", BackfillURL: h.fn.URL + "/" + EntryPoint,
		TasksServiceAccount: testAccount, MaxTasks: o.maxTasks, Sources: httpjson.HostSettings("api.example.com"),
		EnqueueSlice: o.slice, EnqueueParallelism: 8, CounterShards: 10,
		SweepAfter: o.sweepAfter, SweepMaxAttempts: o.sweepMaxAttempts, SweepBudget: 100,
	}
	if h.cfg.SweepMaxAttempts == 0 {
		h.cfg.SweepMaxAttempts = 2
	}
	h.limits = h.cfg.Limits()
	h.limits.Now = func() time.Time { return today }
	storeOpts := []backfill.Option{backfill.WithCounterShards(h.cfg.CounterShards), backfill.WithLogger(logger)}
	svcOpts := []Option{WithClock(func() time.Time { return today }), WithNonce(h.nonce)}
	if o.clock != nil {
		storeOpts = append(storeOpts, backfill.WithClock(o.clock))
		svcOpts = append(svcOpts, WithSweepClock(o.clock))
	}
	h.store = backfill.NewStore(fs, storeOpts...)
	h.enq = taskqueue.New(h.client, testQueue, taskqueue.WithParallelism(h.cfg.EnqueueParallelism),
		taskqueue.WithBackoff(time.Millisecond, 10*time.Millisecond), taskqueue.WithLogger(logger))
	for _, q := range h.queueNames[1:] {
		svcOpts = append(svcOpts, WithMoreQueues(taskqueue.New(h.client, q, taskqueue.WithParallelism(h.cfg.EnqueueParallelism),
			taskqueue.WithBackoff(time.Millisecond, 10*time.Millisecond), taskqueue.WithLogger(logger))))
	}
	if o.control {
		h.cfg.ControlQueue = testControlQueue
		svcOpts = append(svcOpts, WithControlQueue(taskqueue.New(h.client, testControlQueue, taskqueue.WithParallelism(h.cfg.EnqueueParallelism),
			taskqueue.WithBackoff(time.Millisecond, 10*time.Millisecond), taskqueue.WithLogger(logger))))
	}
	h.svc = NewService(h.cfg, h.store, h.enq, logger, svcOpts...)
	handler = logging.Middleware(h.cfg.Project, h.svc)
	if o.wrap != nil {
		handler = o.wrap(handler)
	}
	return h
}

func (h *harness) nonce() string {
	h.nonceMu.Lock()
	defer h.nonceMu.Unlock()
	h.nonces++
	return fmt.Sprintf("nonce-%d", h.nonces)
}

// do sends a request to the function and decodes its JSON answer into out (when not nil).
func (h *harness) do(t *testing.T, method, path, contentType string, body []byte, header map[string]string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.fn.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type = %q, want JSON; body %s", method, path, ct, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Errorf("%s %s = %d %s: decoding: %v", method, path, res.StatusCode, raw, err)
		}
	}
	return res.StatusCode
}

// post sends a spec to POST /backfills.
func (h *harness) post(t *testing.T, spec string, out any) int {
	t.Helper()
	return h.do(t, http.MethodPost, "/backfills", "application/json", []byte(spec), nil, out)
}

// create posts a spec that must create a job and returns the answer.
func (h *harness) create(t *testing.T, spec string) CreateResponse {
	t.Helper()
	var got CreateResponse
	if code := h.post(t, spec, &got); code != http.StatusAccepted || !got.Created {
		t.Fatalf("POST /backfills = %d %+v, want 202 created", code, got)
	}
	return got
}

// plan parses a spec as the function does.
func (h *harness) plan(t *testing.T, spec string) *backfill.Plan {
	t.Helper()
	s, err := backfill.ParseSpec([]byte(spec), h.limits)
	if err != nil {
		t.Fatalf("ParseSpec(%s) = %v", spec, err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitIdle waits until the queue has run every task.
func (h *harness) waitIdle(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// The control queue too when the harness has one (a queue that does not exist is idle).
	if err := h.tasks.WaitAllIdle(ctx, append(slices.Clone(h.queueNames), testControlQueue)...); err != nil {
		left := 0
		for _, q := range h.queueNames {
			left += len(h.tasks.Tasks(q))
		}
		t.Fatalf("WaitAllIdle(%v) = %v; %d tasks left", h.queueNames, err, left)
	}
}

// queued returns the tasks in the (paused) queues by name.
func (h *harness) queued() map[string]*cloudtaskspb.Task {
	out := map[string]*cloudtaskspb.Task{}
	for _, q := range h.queueNames {
		for _, t := range h.tasks.Tasks(q) {
			out[t.GetName()] = t
		}
	}
	return out
}

// status is the job's progress as the store derives it.
func (h *harness) status(t *testing.T, id string) *backfill.Status {
	t.Helper()
	st, err := h.store.Status(t.Context(), id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	return st
}

func (h *harness) job(t *testing.T, id string) *backfill.Job {
	t.Helper()
	j, err := h.store.GetJob(t.Context(), id)
	if err != nil {
		t.Fatalf("GetJob(%s) = %v", id, err)
	}
	return j
}

// httpSpec is an http_json spec of n tasks, one per id.
func httpSpec(n int, extra string) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"%05d"`, i)
	}
	return `{"source":"http_json","http_json":{"url":"https://api.example.com/items/{id}","params":{"id":[` + strings.Join(ids, ",") + `]}}` + extra + `}`
}

// worker is a fake RunBackfillTask: it answers 200 and records each request.
type worker struct {
	mu   sync.Mutex
	reqs []workerRequest
}

type workerRequest struct {
	Path   string
	Header http.Header
	Body   []byte
}

func (wk *worker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	wk.mu.Lock()
	wk.reqs = append(wk.reqs, workerRequest{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	wk.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (wk *worker) requests() []workerRequest {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	return append([]workerRequest(nil), wk.reqs...)
}
