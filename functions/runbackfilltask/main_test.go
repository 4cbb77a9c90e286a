package runbackfilltask

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
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4/ga4fake"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
)

func TestMain(m *testing.M) {
	functest.ServeChildIfAsked() // see TestEntryPointRegistered
	os.Exit(gcloudemu.Main(m, gcloudemu.Firestore))
}

const (
	bqProject = "runbackfilltask-test"
	dataset   = "events"
)

// fetchedAt is the worker's clock: every row's fetched_at.
var fetchedAt = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// env is a worker over real transports: the Firestore emulator (a project of the test's own),
// an in-process local BigQuery, a fake YouTube Analytics server, served over HTTP.
type env struct {
	store  *backfill.Store
	bq     *bqemulator.Server
	bqc    *bigquery.Client
	yt     *youtubefake.YouTubeServer
	ga4    *ga4fake.GA4Server // nil unless withGA4
	worker *Worker
	url    string
	logs   *functest.Buffer
}

type envConfig struct {
	// fetchers are more sources' fetchers, by name.
	fetchers    map[string]func(logger *slog.Logger) backfill.Fetcher
	maxAttempts int
	// worker sets the Worker's JobCacheTTL and APIRetries (0: none, as in most tests).
	worker   Options
	ytOpts   []sourcestest.Option
	now      func() time.Time // the YouTube client's clock
	rowClock func() time.Time // the worker's clock (fetched_at); nil means fetchedAt
	budget   time.Duration    // the worker's WORK_TIMEOUT; 0: none
	ga4      []sourcestest.Option
	withGA4  bool
	rows     func(Appender) Appender // wraps the BigQuery writer
}

// withGA4 serves a fake GA4 API to the worker's ga4 fetcher.
func withGA4(opts ...sourcestest.Option) envOption {
	return func(c *envConfig) { c.withGA4, c.ga4 = true, append(c.ga4, opts...) }
}

// withAppender wraps the worker's BigQuery writer.
func withAppender(wrap func(Appender) Appender) envOption {
	return func(c *envConfig) { c.rows = wrap }
}

type envOption func(*envConfig)

// withBudget sets the worker's work budget (WORK_TIMEOUT).
func withBudget(d time.Duration) envOption { return func(c *envConfig) { c.budget = d } }

func withMaxAttempts(n int) envOption { return func(c *envConfig) { c.maxAttempts = n } }

// withClock sets the clock of both the YouTube client and the fake server's token expiry.
func withClock(now func() time.Time) envOption {
	return func(c *envConfig) {
		c.now = now
		c.ytOpts = append(c.ytOpts, sourcestest.WithClock(now))
	}
}

// withRowClock sets the worker's clock, which stamps each fetch's fetched_at.
func withRowClock(now func() time.Time) envOption { return func(c *envConfig) { c.rowClock = now } }

// withWorker sets the Worker's job cache and in-process API retries.
func withWorker(o Options) envOption { return func(c *envConfig) { c.worker = o } }

// withFetcher replaces a source's fetcher.
func withFetcher(name string, f func(logger *slog.Logger) backfill.Fetcher) envOption {
	return func(c *envConfig) {
		if c.fetchers == nil {
			c.fetchers = map[string]func(*slog.Logger) backfill.Fetcher{}
		}
		c.fetchers[name] = f
	}
}

func withYouTube(opts ...sourcestest.Option) envOption {
	return func(c *envConfig) { c.ytOpts = append(c.ytOpts, opts...) }
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	ec := envConfig{maxAttempts: DefaultQueueMaxAttempts}
	for _, o := range opts {
		o(&ec)
	}
	ctx := context.Background()
	e := &env{}
	var logger *slog.Logger
	logger, e.logs = functest.Logger()

	fs, err := firestore.NewClient(ctx, gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatalf("creating Firestore client: %v", err)
	}
	t.Cleanup(func() { fs.Close() })
	e.store = backfill.NewStore(fs, backfill.WithCounterShards(DefaultCounterShards))

	e.bq, err = bqemulator.NewServer(bqemulator.WithProject(bqProject), bqemulator.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.bq.Close() })
	bqc, err := bigquery.NewClient(ctx, bqProject, option.WithEndpoint(e.bq.Endpoint()), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bqc.Close() })
	e.bqc = bqc
	if err := warehouse.EnsureDataset(ctx, bqc, dataset); err != nil {
		t.Fatal(err)
	}
	wh, err := warehouse.New(ctx, bqProject, dataset, schemas.Table, logger,
		option.WithEndpoint(e.bq.Addr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })

	e.yt = youtubefake.NewYouTubeServer(ec.ytOpts...)
	t.Cleanup(e.yt.Close)
	cfg := localConfig(e.yt)
	if ec.rowClock == nil {
		ec.rowClock = func() time.Time { return fetchedAt }
	}
	var rowsTo Appender = wh
	if ec.rows != nil {
		rowsTo = ec.rows(wh)
	}
	if ec.withGA4 {
		e.ga4 = ga4fake.NewGA4Server(ec.ga4...)
		t.Cleanup(e.ga4.Close)
		cfg.Sources["ga4"] = backfill.Settings{ga4.EnvAPIBaseURL: {Text: e.ga4.URL()}}
		for env, v := range cfg.Sources["youtube_analytics"] {
			cfg.Sources["ga4"][env] = v // the grant, which ga4 reads too
		}
	}
	fetchers := backfill.Fetchers(backfill.Deps{Logger: logger, Now: ec.now, AllowPrivateHosts: cfg.AllowPrivateHosts}, cfg.Sources)
	for name, f := range ec.fetchers {
		fetchers[name] = f(logger)
	}
	e.worker = NewWorker(e.store, rowsTo, Options{MaxAttempts: ec.maxAttempts, Now: ec.rowClock, Logger: logger,
		JobCacheTTL: ec.worker.JobCacheTTL, APIRetries: ec.worker.APIRetries, Budget: ec.budget, Fetchers: fetchers})
	srv := httptest.NewServer(e.worker)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// localConfig is the configuration of a local run against the fake YouTube server.
func localConfig(yt *youtubefake.YouTubeServer) Config {
	return Config{
		Project: "p", Dataset: dataset, QueueMaxAttempts: DefaultQueueMaxAttempts,
		Sources: settings(map[string]backfill.Value{
			youtube.EnvClientID:      {Secret: backfill.Credential{Value: sourcestest.DefaultClientID}},
			youtube.EnvClientSecret:  {Secret: backfill.Credential{Value: sourcestest.DefaultClientSecret}},
			youtube.EnvRefreshToken:  {Secret: backfill.Credential{Value: sourcestest.DefaultRefreshToken}},
			youtube.EnvTokenURL:      {Text: yt.TokenURL()},
			youtube.EnvAPIBaseURL:    {Text: yt.URL()},
			httpjson.EnvAllowedHosts: {List: []string{"127.0.0.1"}},
		}),
		CounterShards: DefaultCounterShards, APITimeout: 5 * time.Second, AllowPrivateHosts: true,
	}
}

// settings is the registered sources' settings as LoadConfig reads them from set (by
// variable): each source's set ones; nil when none is.
func settings(set map[string]backfill.Value) backfill.SourceSettings {
	var out backfill.SourceSettings
	for _, src := range backfill.Sources() {
		s := backfill.Settings{}
		for _, st := range src.Settings() {
			if v, ok := set[st.Env]; ok {
				s[st.Env] = v
			}
		}
		if len(s) > 0 {
			if out == nil {
				out = backfill.SourceSettings{}
			}
			out[src.Name()] = s
		}
	}
	return out
}

// limits are the spec limits of the tests: today is fetchedAt's day, loopback is allowed.
var limits = backfill.Limits{Now: func() time.Time { return fetchedAt },
	Settings: httpjson.HostSettings("127.0.0.1"), AllowPrivateHosts: true}

// newJob creates a running job for the spec and returns its plan.
func (e *env) newJob(t *testing.T, spec string) *backfill.Plan {
	t.Helper()
	s, err := backfill.ParseSpec([]byte(spec), limits)
	if err != nil {
		t.Fatalf("ParseSpec(%s) = %v", spec, err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if created, _, err := e.store.CreateJob(ctx, backfill.NewJob(s, p)); err != nil || !created {
		t.Fatalf("CreateJob() = %v, %v; want created", created, err)
	}
	if err := e.store.MarkRunning(ctx, p.JobID); err != nil {
		t.Fatal(err)
	}
	return p
}

// attemptOf is the Cloud Tasks view of one delivery.
type attemptOf struct {
	retryCount int
	previous   string // the previous attempt's status, "" on the first
}

// response is what the worker answered.
type response struct {
	status     int
	retryAfter string
	answer     Answer
}

// deliver POSTs body (a backfill.TaskSpec, or []byte sent as is) as Cloud Tasks does.
func (e *env) deliver(t *testing.T, body any, a attemptOf) response {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, e.url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	name := "unnamed"
	if task, ok := body.(backfill.TaskSpec); ok {
		name = fmt.Sprintf("%s-t%09d", task.JobID, task.Index)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Google-Cloud-Tasks")
	req.Header.Set(HeaderQueueName, "backfill")
	req.Header.Set(HeaderTaskName, name)
	req.Header.Set(HeaderRetryCount, strconv.Itoa(a.retryCount))
	req.Header.Set(HeaderExecutionCount, strconv.Itoa(a.retryCount))
	req.Header.Set(HeaderETA, fmt.Sprintf("%.6f", float64(fetchedAt.UnixMicro())/1e6))
	if a.previous != "" {
		req.Header.Set(HeaderPreviousResponse, a.previous)
		req.Header.Set(HeaderRetryReason, "HTTP_ERROR")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST task: %v", err)
	}
	defer res.Body.Close()
	out := response{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
	if err := json.NewDecoder(res.Body).Decode(&out.answer); err != nil {
		t.Errorf("decoding the answer: %v", err)
	}
	return out
}

// counts returns the job's counts.
func (e *env) counts(t *testing.T, job string) backfill.Counts {
	t.Helper()
	st, err := e.store.Status(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	return st.Counts
}

// failures returns the job's failure reasons, each with its count.
func (e *env) failures(t *testing.T, job string) map[string]int {
	t.Helper()
	st, err := e.store.Status(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range st.Failures {
		out[f.Reason] = f.Count
	}
	return out
}

// rows returns the API rows of a table or view (not the markers of complete fetches), ordered
// by key.
func (e *env) rows(t *testing.T, table string) []map[string]any {
	t.Helper()
	rows, err := e.bq.Query(context.Background(),
		"SELECT * FROM `"+bqProject+"."+dataset+"."+table+"` WHERE row_index >= 0 ORDER BY job_id, shard, row_index, fetched_at")
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
