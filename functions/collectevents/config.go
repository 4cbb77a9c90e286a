package collectevents

import (
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

// Defaults of the settings that have one.
const (
	DefaultDedupCollection = "collect_events_seen"
	DefaultDedupTTL        = 24 * time.Hour
	DefaultMaxBodyBytes    = 5 << 20
	DefaultMaxEvents       = 1000
	// DefaultRateLimitShares is how many instances share a key's rate when RATE_LIMIT_SHARES
	// is unset: one, right for a single process; Terraform sets CollectEvents' max_instances.
	DefaultRateLimitShares = 1
	// MaxWriteKeyTTL bounds WRITE_KEY_TTL, and so how long a revoked key can keep working.
	MaxWriteKeyTTL = 10 * time.Minute
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
	// WriteKeysCollection is the Firestore collection of the write keys (WRITE_KEYS_COLLECTION).
	WriteKeysCollection string
	// WriteKeyTTL is how long an instance trusts what it read of a key (WRITE_KEY_TTL): the
	// bound on how long a revoked key keeps working.
	WriteKeyTTL time.Duration
	// RequireWriteKey refuses requests without a write key (REQUIRE_WRITE_KEY): on whenever
	// the function is public (browser collection), since then IAM checked no one.
	RequireWriteKey bool
	// RateLimitShares is the number of instances a key's rate is split between
	// (RATE_LIMIT_SHARES): the function's max_instances.
	RateLimitShares int
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

		WriteKeysCollection: env.String("WRITE_KEYS_COLLECTION", writekeys.DefaultCollection),
		WriteKeyTTL:         env.Duration("WRITE_KEY_TTL", writekeys.DefaultTTL, time.Second, MaxWriteKeyTTL),
		RequireWriteKey:     env.Bool("REQUIRE_WRITE_KEY", false),
		// Cloud Run's max instances is at most 1000 by default quota; a share of one
		// thousandth still leaves a key of rate 1000/s one request a second per instance.
		RateLimitShares: env.Int("RATE_LIMIT_SHARES", DefaultRateLimitShares, 1, 1000),
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
