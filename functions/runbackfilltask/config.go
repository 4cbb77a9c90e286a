package runbackfilltask

import (
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset" // the sources whose settings are read
	"github.com/pipelinekit/pipelinekit/shared/config"
)

// Defaults of the settings that have one.
const (
	// DefaultQueueMaxAttempts is the backfill queue's retry_config.max_attempts when
	// QUEUE_MAX_ATTEMPTS is unset: Terraform's default of queue_max_attempts (a test in terraform/
	// checks they are equal).
	DefaultQueueMaxAttempts = 8
	// DefaultCounterShards must match the Backfill function's COUNTER_SHARDS default.
	DefaultCounterShards = 500
	// DefaultAPITimeout bounds one API request.
	DefaultAPITimeout = 30 * time.Second
	// DefaultWorkTimeout bounds one task's work (WORK_TIMEOUT): a minute under the dispatch
	// deadline of 10 minutes (the Backfill function's DefaultDispatchDeadline), which leaves the
	// worker time to record the outcome before Cloud Tasks stops waiting for its answer.
	DefaultWorkTimeout = 9 * time.Minute
)

// UnlimitedAttempts is QUEUE_MAX_ATTEMPTS for a queue that retries forever
// (retry_config.max_attempts = -1): no attempt is ever the last.
const UnlimitedAttempts = -1

// Config is the function's settings, read once from the environment.
type Config struct {
	// Project is the Google Cloud project (GOOGLE_CLOUD_PROJECT) of Firestore and BigQuery.
	Project string
	// Dataset is the BigQuery dataset holding backfill_rows (BIGQUERY_DATASET).
	Dataset string
	// QueueMaxAttempts is the queue's retry_config.max_attempts (QUEUE_MAX_ATTEMPTS):
	// an attempt whose retry count + 1 reaches it is the last. UnlimitedAttempts means none is.
	QueueMaxAttempts int
	// Sources are the registered sources' settings (their base URL overrides, secrets and
	// allow-lists), read in one loop (backfill.ReadSettings), by source name.
	Sources backfill.SourceSettings
	// EventsTopic is the topic sources that find events publish them to (EVENTS_TOPIC).
	EventsTopic string
	// AllowPrivateHosts lets sources reach private addresses (ALLOW_PRIVATE_HOSTS); local only.
	AllowPrivateHosts bool
	// CounterShards is how many counter documents a job's counts are spread over
	// (COUNTER_SHARDS); it must match the Backfill function's.
	CounterShards int
	// APITimeout bounds one API request (API_TIMEOUT).
	APITimeout time.Duration
	// WorkTimeout bounds one task's fetch and appends (WORK_TIMEOUT); it must be below the
	// tasks' dispatch deadline (Terraform checks it), so the outcome is recorded in time.
	WorkTimeout time.Duration
}

// LoadConfig reads the settings through lookup (os.LookupEnv in production) and reports every
// problem at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Project:           env.Required("GOOGLE_CLOUD_PROJECT"),
		Dataset:           env.Required("BIGQUERY_DATASET"),
		QueueMaxAttempts:  env.Int("QUEUE_MAX_ATTEMPTS", DefaultQueueMaxAttempts, UnlimitedAttempts, 1_000_000),
		EventsTopic:       env.String("EVENTS_TOPIC", ""),
		AllowPrivateHosts: env.Bool("ALLOW_PRIVATE_HOSTS", false),
		CounterShards:     env.Int("COUNTER_SHARDS", DefaultCounterShards, 1, 10_000),
		APITimeout:        env.Duration("API_TIMEOUT", DefaultAPITimeout, time.Second, 10*time.Minute),
		WorkTimeout:       env.Duration("WORK_TIMEOUT", DefaultWorkTimeout, time.Second, 30*time.Minute),
	}
	if c.QueueMaxAttempts == 0 {
		env.Fail("QUEUE_MAX_ATTEMPTS", "0 is not a number of attempts: give the queue's max_attempts, or -1 for unlimited")
	}
	c.Sources = backfill.ReadSettings(env, false)
	if err := env.Err(); err != nil {
		return Config{}, fmt.Errorf("loading RunBackfillTask configuration: %w", err)
	}
	return c, nil
}
