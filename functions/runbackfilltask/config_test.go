package runbackfilltask

import (
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/functest"
)

func TestLoadConfig(t *testing.T) {
	const (
		idSecret     = "projects/p/secrets/youtube-client-id/versions/latest"
		secretSecret = "projects/p/secrets/youtube-client-secret/versions/latest"
		tokenSecret  = "projects/p/secrets/youtube-refresh-token/versions/2"
	)
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "BIGQUERY_DATASET": "events"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	defaults := Config{Project: "p", Dataset: "events", QueueMaxAttempts: 8, CounterShards: 500, APITimeout: 30 * time.Second, WorkTimeout: 9 * time.Minute,
		Sources: settings(nil)}
	functest.CheckLoadConfig(t, LoadConfig, []functest.ConfigCase[Config]{
		{Name: "defaults, no YouTube grant", Env: base, Want: defaults},
		{
			Name: "production",
			Env: with("YOUTUBE_CLIENT_ID_SECRET", idSecret, "YOUTUBE_CLIENT_SECRET_SECRET", secretSecret,
				"YOUTUBE_REFRESH_TOKEN_SECRET", tokenSecret, "QUEUE_MAX_ATTEMPTS", "20", "COUNTER_SHARDS", "100",
				"API_TIMEOUT", "45s", "WORK_TIMEOUT", "4m", "HTTP_JSON_ALLOWED_HOSTS", "api.example.com, *.example.org", "K_SERVICE", "runbackfilltask"),
			Want: Config{Project: "p", Dataset: "events", QueueMaxAttempts: 20, CounterShards: 100, APITimeout: 45 * time.Second, WorkTimeout: 4 * time.Minute,
				Sources: settings(map[string]backfill.Value{
					"YOUTUBE_CLIENT_ID": {Secret: backfill.Credential{Secret: idSecret}}, "YOUTUBE_CLIENT_SECRET": {Secret: backfill.Credential{Secret: secretSecret}},
					"YOUTUBE_REFRESH_TOKEN": {Secret: backfill.Credential{Secret: tokenSecret}}, "HTTP_JSON_ALLOWED_HOSTS": {List: []string{"api.example.com", "*.example.org"}}})},
		},
		{
			Name: "local",
			Env: with("YOUTUBE_CLIENT_ID", "id", "YOUTUBE_CLIENT_SECRET", "secret", "YOUTUBE_REFRESH_TOKEN", "1//t",
				"YOUTUBE_TOKEN_URL", "http://127.0.0.1:9000/token", "YOUTUBE_API_BASE_URL", "http://127.0.0.1:9000/",
				"ALLOW_PRIVATE_HOSTS", "true", "HTTP_JSON_ALLOWED_HOSTS", "127.0.0.1", "QUEUE_MAX_ATTEMPTS", "-1"),
			Want: Config{Project: "p", Dataset: "events", QueueMaxAttempts: UnlimitedAttempts, CounterShards: 500, APITimeout: 30 * time.Second, WorkTimeout: 9 * time.Minute,
				AllowPrivateHosts: true,
				Sources: settings(map[string]backfill.Value{
					"YOUTUBE_CLIENT_ID": {Secret: backfill.Credential{Value: "id"}}, "YOUTUBE_CLIENT_SECRET": {Secret: backfill.Credential{Value: "secret"}},
					"YOUTUBE_REFRESH_TOKEN": {Secret: backfill.Credential{Value: "1//t"}}, "YOUTUBE_TOKEN_URL": {Text: "http://127.0.0.1:9000/token"},
					"YOUTUBE_API_BASE_URL": {Text: "http://127.0.0.1:9000/"}, "HTTP_JSON_ALLOWED_HOSTS": {List: []string{"127.0.0.1"}}})},
		},
		{
			Name:    "every problem reported",
			Env:     map[string]string{"QUEUE_MAX_ATTEMPTS": "0", "COUNTER_SHARDS": "none", "API_TIMEOUT": "1h", "YOUTUBE_TOKEN_URL": "token", "WORK_TIMEOUT": "2h"},
			WantErr: []string{"GOOGLE_CLOUD_PROJECT: required", "BIGQUERY_DATASET: required", "QUEUE_MAX_ATTEMPTS", "COUNTER_SHARDS", "API_TIMEOUT", "YOUTUBE_TOKEN_URL", "WORK_TIMEOUT"},
		},
		{
			Name: "x_search",
			Env: with("X_BEARER_TOKEN_SECRET", "projects/p/secrets/x-bearer-token/versions/latest", "EVENTS_TOPIC", "events",
				"X_API_BASE_URL", "http://127.0.0.1:9001/"),
			Want: func() Config {
				c := defaults
				c.EventsTopic = "events"
				c.Sources = settings(map[string]backfill.Value{"X_BEARER_TOKEN": {Secret: backfill.Credential{Secret: "projects/p/secrets/x-bearer-token/versions/latest"}},
					"X_API_BASE_URL": {Text: "http://127.0.0.1:9001/"}})
				return c
			}(),
		},
		{
			Name:    "x_search token twice",
			Env:     with("X_BEARER_TOKEN_SECRET", "x-bearer-token", "X_BEARER_TOKEN", "t"),
			WantErr: []string{"X_BEARER_TOKEN: set X_BEARER_TOKEN_SECRET or X_BEARER_TOKEN, not both"},
		},
		{
			Name:    "x_search token not a secret version",
			Env:     with("X_BEARER_TOKEN_SECRET", "x-bearer-token"),
			WantErr: []string{"X_BEARER_TOKEN_SECRET"},
		},
		{
			Name:    "secret and value both set",
			Env:     with("YOUTUBE_CLIENT_ID_SECRET", idSecret, "YOUTUBE_CLIENT_ID", "id", "YOUTUBE_CLIENT_SECRET", "s", "YOUTUBE_REFRESH_TOKEN", "t"),
			WantErr: []string{"YOUTUBE_CLIENT_ID: set YOUTUBE_CLIENT_ID_SECRET or YOUTUBE_CLIENT_ID, not both"},
		},
		{
			Name:    "part of the grant",
			Env:     with("YOUTUBE_REFRESH_TOKEN_SECRET", tokenSecret),
			WantErr: []string{"needed together: 1 of 3 are set"},
		},
		{
			Name:    "not a secret name",
			Env:     with("YOUTUBE_CLIENT_ID_SECRET", "id", "YOUTUBE_CLIENT_SECRET_SECRET", secretSecret, "YOUTUBE_REFRESH_TOKEN_SECRET", tokenSecret),
			WantErr: []string{"YOUTUBE_CLIENT_ID_SECRET: \"id\" is not a secret version name"},
		},
		{
			Name:    "literal credentials when deployed",
			Env:     with("YOUTUBE_CLIENT_ID", "id", "YOUTUBE_CLIENT_SECRET", "s", "YOUTUBE_REFRESH_TOKEN", "t", "K_SERVICE", "runbackfilltask"),
			WantErr: []string{"YOUTUBE_REFRESH_TOKEN: a credential in the environment is for local runs only"},
		},
	})
}
