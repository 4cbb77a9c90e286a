package localstack

import (
	"context"
	"fmt"
	"strconv"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// BackfillQueue names the local backfill queue, as Terraform's default does.
const (
	Location      = "us-central1"
	BackfillQueue = "backfill"
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
	// YouTube configures the fake YouTube Analytics API (latency, failure rates, token TTL).
	YouTube []sourcestest.Option
	// TombstoneTTL is how long the local Cloud Tasks remembers a task name (default 1h).
	TombstoneTTL time.Duration
	// CounterShards is the job store's counter shards (default 64 locally).
	CounterShards int
}

// BackfillParts are what the backfill half of the stack started.
type BackfillParts struct {
	FirestoreHost string // the stack's
	Tasks         *tasksemulator.Server
	TasksClient   *cloudtasks.Client
	YouTube       *sourcestest.YouTubeServer
	JSONAPI       *sourcestest.JSONAPIServer
	Queue         string // projects/P/locations/L/queues/Q
	// URL is the Backfill function's base URL: POST URL+"/backfills" starts a backfill.
	URL string
}

// startBackfill brings up the backfill services and returns the functions' environment for them.
func (s *Stack) startBackfill(ctx context.Context, o Options, functionsURL string) (map[string]string, error) {
	b := &BackfillParts{FirestoreHost: s.FirestoreHost}
	s.Backfill = b

	o.Log.Info("starting the local Cloud Tasks")
	var topts []tasksemulator.Option
	if bo := o.Backfill; bo.TombstoneTTL > 0 {
		topts = append(topts, tasksemulator.WithTombstoneTTL(bo.TombstoneTTL))
	}
	var err error
	if b.Tasks, err = tasksemulator.NewServer(topts...); err != nil {
		return nil, fmt.Errorf("starting the local Cloud Tasks: %w", err)
	}
	if b.TasksClient, err = cloudtasks.NewClient(ctx, tasksemulator.ClientOptions(b.Tasks.Addr())...); err != nil {
		return nil, fmt.Errorf("creating the Cloud Tasks client: %w", err)
	}
	b.Queue = fmt.Sprintf("projects/%s/locations/%s/queues/%s", s.Project, Location, BackfillQueue)
	q := o.Backfill.Queue
	_, err = b.TasksClient.CreateQueue(ctx, &cloudtaskspb.CreateQueueRequest{
		Parent: fmt.Sprintf("projects/%s/locations/%s", s.Project, Location),
		Queue: &cloudtaskspb.Queue{
			Name: b.Queue,
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
		},
	})
	if err != nil {
		return nil, fmt.Errorf("creating queue %s: %w", b.Queue, err)
	}

	b.YouTube = sourcestest.NewYouTubeServer(o.Backfill.YouTube...)
	b.JSONAPI = sourcestest.NewJSONAPIServer()
	b.URL = functionsURL + "/Backfill"
	shards := o.Backfill.CounterShards
	if shards == 0 {
		shards = 64
	}
	return map[string]string{
		"FIRESTORE_EMULATOR_HOST": b.FirestoreHost,
		tasksemulator.EnvHost:     b.Tasks.Addr(),
		"BACKFILL_QUEUE":          b.Queue,
		"BACKFILL_URL":            b.URL,
		"WORKER_URL":              functionsURL + "/RunBackfillTask",
		"QUEUE_MAX_ATTEMPTS":      strconv.Itoa(q.MaxAttempts),
		"COUNTER_SHARDS":          strconv.Itoa(shards),
		"ALLOW_PRIVATE_HOSTS":     "true",
		"HTTP_JSON_ALLOWED_HOSTS": "127.0.0.1,localhost",
		"YOUTUBE_CLIENT_ID":       sourcestest.DefaultClientID,
		"YOUTUBE_CLIENT_SECRET":   sourcestest.DefaultClientSecret,
		"YOUTUBE_REFRESH_TOKEN":   sourcestest.DefaultRefreshToken,
		"YOUTUBE_TOKEN_URL":       b.YouTube.TokenURL(),
		"YOUTUBE_API_BASE_URL":    b.YouTube.URL(),
	}, nil
}

func (b *BackfillParts) close() []error {
	var errs []error
	if b.TasksClient != nil {
		errs = append(errs, b.TasksClient.Close())
	}
	if b.Tasks != nil {
		errs = append(errs, b.Tasks.Close())
	}
	if b.YouTube != nil {
		b.YouTube.Close()
	}
	if b.JSONAPI != nil {
		b.JSONAPI.Close()
	}
	return errs
}
