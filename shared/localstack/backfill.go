package localstack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/pipelinekit/pipelinekit/shared/emulators/iamcheck"
	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4/ga4fake"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson/httpjsonfake"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch/xsearchfake"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
)

// BackfillQueue names the local backfill queue, and ControlQueue the queue of the Backfill
// function's control tasks (fan-out links, :retry walk steps), as Terraform's defaults do.
const (
	Location      = "us-central1"
	BackfillQueue = "backfill"
	ControlQueue  = "backfill-control"
)

// QueueConfig is the backfill queue's rate limits and retry policy.
type QueueConfig struct {
	MaxDispatchesPerSecond  float64
	MaxConcurrentDispatches int
	MaxAttempts             int
	MinBackoff, MaxBackoff  time.Duration
	MaxDoublings            int
	MaxRetryDuration        time.Duration
}

// BackfillOptions turn on the backfill half of the stack: the Firestore emulator, the local
// Cloud Tasks server and queue, and the fake YouTube Analytics and JSON APIs.
type BackfillOptions struct {
	Queue QueueConfig
	// Fakes configures the sources' fakes, by source (latency, failure rates, token TTL, each
	// fake's own options).
	Fakes map[string][]sourcestest.Option
	// TombstoneTTL is how long the local Cloud Tasks remembers a task name (default 1h).
	TombstoneTTL time.Duration
	// CounterShards is the job store's counter shards (default 64 locally).
	CounterShards int
	// Queues is how many backfill queues (Terraform's backfill_queues; default 1): "backfill",
	// then "backfill-1", ..., each with Queue's limits, so each is paced on its own.
	Queues int
}

// BackfillParts are what the backfill half of the stack started.
type BackfillParts struct {
	FirestoreHost string // the stack's
	// Tasks is the stack's own Cloud Tasks server; nil when CLOUD_TASKS_EMULATOR_HOST named one.
	Tasks *tasksemulator.Server
	// TasksHost is the Cloud Tasks server's host:port, the stack's or the one reused.
	TasksHost   string
	TasksClient *cloudtasks.Client
	// fakes are the sources' fakes, by source (Fake).
	fakes map[string]sourcestest.Fake
	Queue string // projects/P/locations/L/queues/Q: the first queue
	// ControlQueue is the full name of the control queue (BACKFILL_CONTROL_QUEUE), created with
	// Terraform's settings of backfill_control (ControlQueueConfig).
	ControlQueue string
	// Queues are every backfill queue, Queue first (BackfillOptions.Queues).
	Queues []string
	// URL is the Backfill function's base URL: POST URL+"/backfills" starts a backfill.
	URL string
}

// startBackfill brings up the backfill services and returns the functions' environment for them.
func (s *Stack) startBackfill(ctx context.Context, o Options, functionsURL string) (map[string]string, error) {
	b := &BackfillParts{FirestoreHost: s.FirestoreHost}
	s.Backfill = b

	var err error
	var ok bool
	if b.TasksHost, ok = s.reuse(ctx, tasksemulator.EnvHost, "Cloud Tasks server", s.pingTasks); !ok {
		o.Log.Info("starting the local Cloud Tasks")
		var topts []tasksemulator.Option
		if bo := o.Backfill; bo.TombstoneTTL > 0 {
			topts = append(topts, tasksemulator.WithTombstoneTTL(bo.TombstoneTTL))
		}
		if b.Tasks, err = tasksemulator.NewServer(topts...); err != nil {
			return nil, fmt.Errorf("starting the local Cloud Tasks: %w", err)
		}
		b.TasksHost = b.Tasks.Addr()
	}
	if b.TasksClient, err = cloudtasks.NewClient(ctx, tasksemulator.ClientOptions(b.TasksHost)...); err != nil {
		return nil, fmt.Errorf("creating the Cloud Tasks client: %w", err)
	}
	b.Queue = fmt.Sprintf("projects/%s/locations/%s/queues/%s", s.Project, Location, BackfillQueue)
	b.Queues = []string{b.Queue}
	for n := 1; n < o.Backfill.Queues; n++ {
		b.Queues = append(b.Queues, fmt.Sprintf("%s-%d", b.Queue, n))
	}
	for _, q := range b.Queues {
		if err := ensureQueue(ctx, b.TasksClient, q, o.Backfill.Queue, o.Log); err != nil {
			return nil, err
		}
	}
	control, err := ControlQueueConfig()
	if err != nil {
		return nil, err
	}
	b.ControlQueue = fmt.Sprintf("projects/%s/locations/%s/queues/%s", s.Project, Location, ControlQueue)
	if err := ensureQueue(ctx, b.TasksClient, b.ControlQueue, control, o.Log); err != nil {
		return nil, err
	}

	if err := b.startFakes(s, o); err != nil {
		return nil, err
	}
	b.URL = functionsURL + "/Backfill"
	shards := o.Backfill.CounterShards
	if shards == 0 {
		shards = 64
	}
	env := map[string]string{
		"FIRESTORE_EMULATOR_HOST": b.FirestoreHost,
		tasksemulator.EnvHost:     b.TasksHost,
		"BACKFILL_QUEUE":          strings.Join(b.Queues, ","),
		"BACKFILL_CONTROL_QUEUE":  b.ControlQueue,
		"BACKFILL_URL":            b.URL,
		"WORKER_URL":              functionsURL + "/RunBackfillTask",
		"QUEUE_MAX_ATTEMPTS":      strconv.Itoa(o.Backfill.Queue.MaxAttempts),
		"COUNTER_SHARDS":          strconv.Itoa(shards),
		"ALLOW_PRIVATE_HOSTS":     "true",
	}
	for _, f := range b.fakes {
		maps.Copy(env, f.Env())
	}
	return env, nil
}

// fakes is the local stack's list of fakes, one line a source, in start order.
var fakes = []sourcestest.Kit{
	youtubefake.Kit,
	httpjsonfake.Kit,
	ga4fake.Kit, // after a fake issuing Google tokens, whose tokens it honours
	xsearchfake.Kit,
}

// startFakes starts every source's fake, each with its options (BackfillOptions.Fakes).
func (b *BackfillParts) startFakes(s *Stack, o Options) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	sample, err := readLines(filepath.Join(root, SampleStreamFile))
	if err != nil {
		return err
	}
	st := sourcestest.Stack{Fakes: map[string]sourcestest.Fake{}, Sample: sample}
	if s.XStream != nil {
		st.StreamURL, st.StreamToken = s.XStream.URL(), s.XStream.Token()
	}
	b.fakes = st.Fakes
	for _, k := range fakes {
		f, err := k.Start(st, o.Backfill.Fakes[k.Source])
		if err != nil {
			return fmt.Errorf("starting the fake of %s: %w", k.Source, err)
		}
		st.Fakes[k.Source] = f
	}
	return nil
}

// Fake returns the fake of source (nil when the stack runs none); callers assert its type, e.g.
// Fake(name).(*ga4fake.GA4Server).
func (b *BackfillParts) Fake(source string) sourcestest.Fake { return b.fakes[source] }

func (b *BackfillParts) close() []error {
	var errs []error
	if b.TasksClient != nil {
		errs = append(errs, b.TasksClient.Close())
	}
	if b.Tasks != nil {
		errs = append(errs, b.Tasks.Close())
	}
	for _, f := range b.fakes {
		f.Close()
	}
	return errs
}

// SampleStreamFile is the stream's sample data, from the module root; the fake X search serves it.
const SampleStreamFile = "shared/localstack/testdata/sample_stream.jsonl"

// readLines returns a file's non-empty lines.
func readLines(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if l = bytes.TrimSpace(l); len(l) > 0 {
			out = append(out, l)
		}
	}
	return out, nil
}

// ensureQueue creates the backfill queue, or, when a long-lived server already has it, sets its
// rates and retries to ours and resumes it.
func ensureQueue(ctx context.Context, c *cloudtasks.Client, name string, q QueueConfig, log *slog.Logger) error {
	queue := &cloudtaskspb.Queue{
		Name: name,
		RateLimits: &cloudtaskspb.RateLimits{
			MaxDispatchesPerSecond:  q.MaxDispatchesPerSecond,
			MaxConcurrentDispatches: int32(q.MaxConcurrentDispatches),
		},
		RetryConfig: &cloudtaskspb.RetryConfig{
			MaxAttempts:      int32(q.MaxAttempts),
			MaxRetryDuration: durationpb.New(q.MaxRetryDuration),
			MinBackoff:       durationpb.New(q.MinBackoff),
			MaxBackoff:       durationpb.New(q.MaxBackoff),
			MaxDoublings:     int32(q.MaxDoublings),
		},
	}
	parent := name[:strings.Index(name, "/queues/")]
	_, err := c.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{Parent: parent, Queue: queue})
	if status.Code(err) == codes.AlreadyExists {
		log.Info("queue " + name + " exists: updating its rates and retries")
		_, err = c.UpdateQueue(ctx, &cloudtaskspb.UpdateQueueRequest{Queue: queue, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"rate_limits", "retry_config"}}})
		if status.Code(err) == codes.Unimplemented {
			log.Warn("the Cloud Tasks server cannot update queues: keeping the existing queue's settings")
			err = nil
		}
		if err == nil {
			_, err = c.ResumeQueue(ctx, &cloudtaskspb.ResumeQueueRequest{Name: name})
			if status.Code(err) == codes.Unimplemented {
				err = nil
			}
		}
	}
	if err != nil {
		return fmt.Errorf("creating queue %s: %w", name, err)
	}
	return nil
}

// pingTasks checks that a Cloud Tasks server answers at host.
func (s *Stack) pingTasks(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := cloudtasks.NewClient(ctx, tasksemulator.ClientOptions(host)...)
	if err != nil {
		return err
	}
	defer c.Close()
	it := c.ListQueues(ctx, &cloudtaskspb.ListQueuesRequest{Parent: fmt.Sprintf("projects/%s/locations/%s", s.Project, Location)})
	if _, err := it.Next(); err != nil && err != iterator.Done {
		return err
	}
	return nil
}

// queueBindings gives queues backfill-1 .. backfill-(n-1) the bindings Terraform's plan gives
// queue backfill: the topology is planned with backfill_queues at its default of 1, and
// iam.tf grants every queue alike (count = backfill_queues), so a stack of n queues is checked
// as a deployment of n queues, no kinder.
func queueBindings(bindings []iamcheck.Binding, n int) []iamcheck.Binding {
	out := bindings
	for _, b := range bindings {
		if !strings.HasSuffix(b.Resource, "/queues/"+BackfillQueue) {
			continue
		}
		for k := 1; k < n; k++ {
			c := b
			c.Resource = fmt.Sprintf("%s-%d", b.Resource, k)
			out = append(out, c)
		}
	}
	return out
}
