package streamtweets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// DefaultStreamParams are the stream's query parameters unless X_STREAM_PARAMS sets others: the
// tweet fields the loader's rows need (created_at, author_id, lang, referenced_tweets and
// in_reply_to_user_id for the links, entities, note_tweet for the untruncated text of long
// posts) and the author's username.
const DefaultStreamParams = "tweet.fields=created_at,author_id,lang,referenced_tweets,in_reply_to_user_id,entities,note_tweet" +
	"&expansions=author_id&user.fields=username"

// Defaults of the optional settings.
//
// A run holds the connection for most of the time Cloud Scheduler waits for it: Scheduler's
// attempt deadline is at most 30 minutes for HTTP targets, and when it passes Scheduler cancels
// the request and records DEADLINE_EXCEEDED, while Cloud Run may keep running the function
// until its own timeout (up to 60 minutes for 2nd gen HTTP functions). So a run is sized to end
// before the attempt deadline: LeaseWait, taking the lease and the rules sync (SetupTimeout
// each), Duration, FlushTimeout and the lease release stay under 30 minutes (90 s + 30 s + 30 s
// + 27 min + 8 s + 10 s = 29 min 48 s), and
// Terraform sets the function timeout and the attempt deadline both to 30 minutes. Runs start
// every minute; the one that arrives in the last LeaseWait of the holder's window waits and
// takes over the moment the lease is released, the others answer skipped at once.
const (
	DefaultStreamDuration = 27 * time.Minute
	DefaultLeaseTTL       = 30 * time.Second
	DefaultLeaseWait      = 90 * time.Second
	DefaultLeaseDoc       = "leases/x-stream"
	// MaxBackfillMinutes is the most X's backfill_minutes takes.
	MaxBackfillMinutes = 5
)

// Config is the function's configuration, read from the environment.
type Config struct {
	Project     string         // GOOGLE_CLOUD_PROJECT
	Topic       string         // EVENTS_TOPIC
	TokenSecret string         // X_BEARER_TOKEN_SECRET: projects/P/secrets/S/versions/V
	Token       string         // X_BEARER_TOKEN: the token itself, for local runs
	BaseURL     string         // X_API_BASE_URL
	Rules       []xstream.Rule // X_STREAM_RULES; nil leaves the stored rules alone
	Params      url.Values     // X_STREAM_PARAMS
	Langs       []string       // LANG_FILTER; empty keeps every language
	Duration    time.Duration  // STREAM_DURATION
	LeaseTTL    time.Duration  // LEASE_TTL
	LeaseDoc    string         // LEASE_DOC
	LeaseWait   time.Duration  // LEASE_WAIT; 0s never waits
	Backfill    int            // STREAM_BACKFILL_MINUTES: 0 (off) to 5, where the access level allows it
}

// LoadConfig reads the Config through lookup and reports every problem at once, each naming
// its variable.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	env := config.New(lookup)
	c := Config{
		Project: env.Required("GOOGLE_CLOUD_PROJECT"),
		Topic:   env.Required("EVENTS_TOPIC"),
		BaseURL: env.URL("X_API_BASE_URL", xstream.DefaultBaseURL),
		Langs:   env.List("LANG_FILTER", nil),
		// Up to an hour: the longest a 2nd gen HTTP function may run.
		Duration: env.Duration("STREAM_DURATION", DefaultStreamDuration, time.Second, time.Hour),
		LeaseTTL: env.Duration("LEASE_TTL", DefaultLeaseTTL, time.Second, time.Hour),
		LeaseDoc: env.String("LEASE_DOC", DefaultLeaseDoc),
		// Zero means do not wait at all (a run that finds the lease held skips).
		LeaseWait: env.Duration("LEASE_WAIT", DefaultLeaseWait, 0, 10*time.Minute),
		Backfill:  env.Int("STREAM_BACKFILL_MINUTES", 0, 0, MaxBackfillMinutes),
	}
	// The RunBackfillTask's x_search source reads the same variables the same way.
	token := env.Credential("X_BEARER_TOKEN", true)
	c.TokenSecret, c.Token = token.Secret, token.Value
	if v := env.String("X_STREAM_RULES", ""); v != "" {
		rules, err := parseRules(v)
		if err != nil {
			env.Fail("X_STREAM_RULES", "%v", err)
		}
		c.Rules = rules
	}
	params, err := parseParams(env.String("X_STREAM_PARAMS", DefaultStreamParams))
	if err != nil {
		env.Fail("X_STREAM_PARAMS", "%v", err)
	}
	c.Params = params
	if params.Has("backfill_minutes") {
		env.Fail("X_STREAM_PARAMS", "backfill_minutes belongs in STREAM_BACKFILL_MINUTES, which also keeps a run from publishing a replayed message twice")
	}
	if segs := strings.Split(c.LeaseDoc, "/"); len(segs)%2 != 0 || strings.Contains(c.LeaseDoc, "//") || strings.HasPrefix(c.LeaseDoc, "/") {
		env.Fail("LEASE_DOC", "%q is not a document path such as leases/x-stream", c.LeaseDoc)
	}
	return c, env.Err()
}

// parseRules decodes a JSON array of {"value","tag"} objects; unknown keys are refused so that a
// misspelt key does not silently sync a rule without its tag.
func parseRules(s string) ([]xstream.Rule, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var rules []xstream.Rule
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf(`not a JSON array of {"value","tag"} objects: %w`, err)
	}
	if dec.More() {
		return nil, errors.New(`more than one JSON value; want one array of {"value","tag"} objects`)
	}
	if len(rules) == 0 {
		// "[]" leaves the rules alone like an empty variable: syncing to it would delete every
		// stored rule, which is better done on purpose, by hand.
		return nil, nil
	}
	for i, r := range rules {
		if strings.TrimSpace(r.Value) == "" {
			return nil, fmt.Errorf("rule %d has no value", i)
		}
	}
	return rules, nil
}

// parseParams parses the stream's query string and refuses parameters the filtered stream does
// not take, which X would answer with 400 on every connection.
func parseParams(s string) (url.Values, error) {
	q, err := url.ParseQuery(strings.TrimPrefix(s, "?"))
	if err != nil {
		return nil, fmt.Errorf("%q is not a query string: %w", s, err)
	}
	for k := range q {
		switch k {
		case "tweet.fields", "expansions", "user.fields", "media.fields", "place.fields", "poll.fields",
			"backfill_minutes", "partition", "start_time", "end_time":
		default:
			return nil, fmt.Errorf("%q is not a filtered-stream parameter", k)
		}
	}
	return q, nil
}
