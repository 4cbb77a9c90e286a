package runbackfilltask

import (
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/secrets"
	"github.com/pipelinekit/pipelinekit/shared/sources"
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

// Credential is one YouTube OAuth credential: a Secret Manager version name in production, or
// the value itself for local runs. At most one of the two is set.
type Credential struct {
	// Secret is the secret version name, projects/P/secrets/S/versions/V.
	Secret string
	// Value is the credential itself (local runs only).
	Value string
}

// set reports whether the credential is configured at all.
func (c Credential) set() bool { return c.Secret != "" || c.Value != "" }

// Config is the function's settings, read once from the environment.
type Config struct {
	// Project is the Google Cloud project (GOOGLE_CLOUD_PROJECT) of Firestore and BigQuery.
	Project string
	// Dataset is the BigQuery dataset holding backfill_rows (BIGQUERY_DATASET).
	Dataset string
	// QueueMaxAttempts is the queue's retry_config.max_attempts (QUEUE_MAX_ATTEMPTS):
	// an attempt whose retry count + 1 reaches it is the last. UnlimitedAttempts means none is.
	QueueMaxAttempts int
	// ClientID, ClientSecret and RefreshToken are the YouTube OAuth grant, from
	// YOUTUBE_CLIENT_ID_SECRET (or YOUTUBE_CLIENT_ID locally) and likewise.
	ClientID, ClientSecret, RefreshToken Credential
	// TokenURL overrides Google's OAuth token endpoint (YOUTUBE_TOKEN_URL), for local servers.
	TokenURL string
	// APIBaseURL overrides https://youtubeanalytics.googleapis.com/ (YOUTUBE_API_BASE_URL).
	APIBaseURL string
	// GA4APIBaseURL overrides https://analyticsdata.googleapis.com/ (GA4_API_BASE_URL).
	GA4APIBaseURL string
	// XToken is X's bearer token for x_search (X_BEARER_TOKEN_SECRET, the secret StreamTweets
	// reads, or X_BEARER_TOKEN locally).
	XToken Credential
	// XAPIBaseURL overrides https://api.x.com/ (X_API_BASE_URL).
	XAPIBaseURL string
	// EventsTopic is the topic x_search publishes the tweets it finds to (EVENTS_TOPIC).
	EventsTopic string
	// AllowedHosts is the http_json allow-list (HTTP_JSON_ALLOWED_HOSTS, comma-separated).
	AllowedHosts []string
	// AllowPrivateHosts lets http_json reach private addresses (ALLOW_PRIVATE_HOSTS); local only.
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

// credentialVars names the two variables of each credential.
var credentialVars = []struct {
	secret, value string
	field         func(*Config) *Credential
}{
	{"YOUTUBE_CLIENT_ID_SECRET", "YOUTUBE_CLIENT_ID", func(c *Config) *Credential { return &c.ClientID }},
	{"YOUTUBE_CLIENT_SECRET_SECRET", "YOUTUBE_CLIENT_SECRET", func(c *Config) *Credential { return &c.ClientSecret }},
	{"YOUTUBE_REFRESH_TOKEN_SECRET", "YOUTUBE_REFRESH_TOKEN", func(c *Config) *Credential { return &c.RefreshToken }},
}

// LoadConfig reads the settings through lookup (os.LookupEnv in production) and reports every
// problem at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Project:           env.Required("GOOGLE_CLOUD_PROJECT"),
		Dataset:           env.Required("BIGQUERY_DATASET"),
		QueueMaxAttempts:  env.Int("QUEUE_MAX_ATTEMPTS", DefaultQueueMaxAttempts, UnlimitedAttempts, 1_000_000),
		TokenURL:          env.URL("YOUTUBE_TOKEN_URL", ""),
		APIBaseURL:        env.URL("YOUTUBE_API_BASE_URL", ""),
		GA4APIBaseURL:     env.URL("GA4_API_BASE_URL", ""),
		XToken:            Credential{Secret: env.String("X_BEARER_TOKEN_SECRET", ""), Value: env.String("X_BEARER_TOKEN", "")},
		XAPIBaseURL:       env.URL("X_API_BASE_URL", ""),
		EventsTopic:       env.String("EVENTS_TOPIC", ""),
		AllowedHosts:      env.List("HTTP_JSON_ALLOWED_HOSTS", nil),
		AllowPrivateHosts: env.Bool("ALLOW_PRIVATE_HOSTS", false),
		CounterShards:     env.Int("COUNTER_SHARDS", DefaultCounterShards, 1, 10_000),
		APITimeout:        env.Duration("API_TIMEOUT", DefaultAPITimeout, time.Second, 10*time.Minute),
		WorkTimeout:       env.Duration("WORK_TIMEOUT", DefaultWorkTimeout, time.Second, 30*time.Minute),
	}
	if c.QueueMaxAttempts == 0 {
		env.Fail("QUEUE_MAX_ATTEMPTS", "0 is not a number of attempts: give the queue's max_attempts, or -1 for unlimited")
	}
	// Cloud Run (and so Cloud Functions 2nd gen) sets K_SERVICE: a deployed function must not
	// carry a credential in its environment, where anyone who can read the service sees it.
	_, deployed := lookup("K_SERVICE")
	configured := 0
	for _, v := range credentialVars {
		cred := v.field(&c)
		cred.Secret, cred.Value = env.String(v.secret, ""), env.String(v.value, "")
		switch {
		case cred.Secret != "" && cred.Value != "":
			env.Fail(v.value, "set %s or %s, not both", v.secret, v.value)
		case cred.Secret != "":
			if err := secrets.CheckName(cred.Secret); err != nil {
				env.Fail(v.secret, "%v", err)
			}
		case cred.Value != "" && deployed:
			env.Fail(v.value, "a credential in the environment is for local runs only; deployed functions (K_SERVICE is set) read %s", v.secret)
		}
		if cred.set() {
			configured++
		}
	}
	switch x := c.XToken; {
	case x.Secret != "" && x.Value != "":
		env.Fail("X_BEARER_TOKEN", "set X_BEARER_TOKEN_SECRET or X_BEARER_TOKEN, not both")
	case x.Secret != "":
		if err := secrets.CheckName(x.Secret); err != nil {
			env.Fail("X_BEARER_TOKEN_SECRET", "%v", err)
		}
	}
	// X_BEARER_TOKEN is StreamTweets' variable too, which takes it as given wherever it runs;
	// the worker reads it the same way (Terraform sets only the secret).
	if configured != 0 && configured != len(credentialVars) {
		env.Fail("YOUTUBE_REFRESH_TOKEN_SECRET", "the YouTube client id, client secret and refresh token are needed together: %d of 3 are set", configured)
	}
	if err := env.Err(); err != nil {
		return Config{}, fmt.Errorf("loading RunBackfillTask configuration: %w", err)
	}
	return c, nil
}

// YouTubeConfigured reports whether the YouTube grant is configured; a deployment that only
// runs http_json backfills may leave it out.
func (c Config) YouTubeConfigured() bool { return c.RefreshToken.set() }

// HostPolicy returns the http_json SSRF guard of the configuration.
func (c Config) HostPolicy() sources.HostPolicy {
	return sources.HostPolicy{Allow: c.AllowedHosts, AllowPrivate: c.AllowPrivateHosts}
}
