package collectevents

import (
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/config"
)

// Defaults of the settings that have one.
const (
	DefaultDedupCollection = "collect_events_seen"
	DefaultDedupTTL        = 24 * time.Hour
	DefaultMaxBodyBytes    = 5 << 20
	DefaultMaxEvents       = 1000
)

// Config is the function's settings, read once from the environment.
type Config struct {
	// Project is the Google Cloud project (GOOGLE_CLOUD_PROJECT) of the topic and the database.
	Project string
	// Topic is the id of the Pub/Sub topic events are published to (EVENTS_TOPIC).
	Topic string
	// DedupCollection is the Firestore collection of seen event ids (DEDUP_COLLECTION).
	DedupCollection string
	// DedupTTL is how long an event id stays seen (DEDUP_TTL).
	DedupTTL time.Duration
	// MaxBodyBytes is the largest request body accepted (MAX_BODY_BYTES).
	MaxBodyBytes int64
	// MaxEvents is the largest number of events accepted in one request (MAX_EVENTS).
	MaxEvents int
}

// LoadConfig reads the settings through lookup (os.LookupEnv in production) and reports every
// problem at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Project:         env.Required("GOOGLE_CLOUD_PROJECT"),
		Topic:           env.Required("EVENTS_TOPIC"),
		DedupCollection: env.String("DEDUP_COLLECTION", DefaultDedupCollection),
		DedupTTL:        env.Duration("DEDUP_TTL", DefaultDedupTTL, time.Minute, 30*24*time.Hour),
		// Cloud Functions refuses HTTP requests over 32 MB before they reach us.
		MaxBodyBytes: int64(env.Int("MAX_BODY_BYTES", DefaultMaxBodyBytes, 1<<10, 32<<20)),
		MaxEvents:    env.Int("MAX_EVENTS", DefaultMaxEvents, 1, 100_000),
	}
	if err := env.Err(); err != nil {
		return Config{}, fmt.Errorf("loading CollectEvents configuration: %w", err)
	}
	return c, nil
}

// Limits returns the request limits of the configuration.
func (c Config) Limits() Limits {
	return Limits{MaxBodyBytes: c.MaxBodyBytes, MaxEvents: c.MaxEvents}
}
