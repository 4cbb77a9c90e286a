package streamtweets

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/config"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

func TestLoadConfigDefaults(t *testing.T) {
	got, err := LoadConfig(config.Map(map[string]string{
		"GOOGLE_CLOUD_PROJECT":  "p",
		"EVENTS_TOPIC":          "events",
		"X_BEARER_TOKEN_SECRET": "projects/p/secrets/x-bearer-token/versions/latest",
	}))
	if err != nil {
		t.Fatalf("LoadConfig() error = %v", err)
	}
	want := Config{
		Project: "p", Topic: "events", TokenSecret: "projects/p/secrets/x-bearer-token/versions/latest",
		BaseURL: "https://api.x.com",
		Params: url.Values{
			"tweet.fields": {"created_at,author_id,lang,referenced_tweets,in_reply_to_user_id,entities,note_tweet"},
			"expansions":   {"author_id"},
			"user.fields":  {"username"},
		},
		Duration: 27 * time.Minute, LeaseTTL: 30 * time.Second, LeaseDoc: "leases/x-stream", LeaseWait: 90 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadConfig() mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadConfigSettings(t *testing.T) {
	got, err := LoadConfig(config.Map(map[string]string{
		"GOOGLE_CLOUD_PROJECT":    "p",
		"EVENTS_TOPIC":            "events",
		"X_BEARER_TOKEN":          "tok",
		"X_API_BASE_URL":          "http://127.0.0.1:8080",
		"X_STREAM_RULES":          `[{"value":"cat has:images","tag":"cats"},{"value":"dog"}]`,
		"X_STREAM_PARAMS":         "tweet.fields=lang",
		"LANG_FILTER":             "en, de",
		"STREAM_DURATION":         "2s",
		"LEASE_TTL":               "5s",
		"LEASE_DOC":               "locks/stream",
		"LEASE_WAIT":              "0s",
		"STREAM_BACKFILL_MINUTES": "2",
	}))
	if err != nil {
		t.Fatalf("LoadConfig() error = %v", err)
	}
	want := Config{
		Project: "p", Topic: "events", Token: "tok", BaseURL: "http://127.0.0.1:8080",
		Rules:  []xstream.Rule{{Value: "cat has:images", Tag: "cats"}, {Value: "dog"}},
		Params: url.Values{"tweet.fields": {"lang"}}, Langs: []string{"en", "de"},
		Duration: 2 * time.Second, LeaseTTL: 5 * time.Second, LeaseDoc: "locks/stream", Backfill: 2,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("LoadConfig() mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "EVENTS_TOPIC": "events", "X_BEARER_TOKEN": "tok"}
	tests := []struct {
		name  string
		set   map[string]string
		unset []string
		want  []string // each must appear in the error
	}{
		{name: "project and topic missing", unset: []string{"GOOGLE_CLOUD_PROJECT", "EVENTS_TOPIC"},
			want: []string{"GOOGLE_CLOUD_PROJECT: required", "EVENTS_TOPIC: required"}},
		{name: "no token", unset: []string{"X_BEARER_TOKEN"},
			want: []string{"X_BEARER_TOKEN_SECRET: required"}},
		{name: "token value deployed", set: map[string]string{"K_SERVICE": "streamtweets"},
			want: []string{"X_BEARER_TOKEN: a credential in the environment is for local runs only; deployed functions (K_SERVICE is set) read X_BEARER_TOKEN_SECRET"}},
		{name: "both tokens", set: map[string]string{"X_BEARER_TOKEN_SECRET": "projects/p/secrets/s/versions/1"},
			want: []string{"X_BEARER_TOKEN: set X_BEARER_TOKEN_SECRET or X_BEARER_TOKEN, not both"}},
		{name: "secret not a version name", set: map[string]string{"X_BEARER_TOKEN_SECRET": "x-bearer-token"}, unset: []string{"X_BEARER_TOKEN"},
			want: []string{"X_BEARER_TOKEN_SECRET: \"x-bearer-token\""}},
		{name: "rules not JSON", set: map[string]string{"X_STREAM_RULES": "cat"}, want: []string{"X_STREAM_RULES: not a JSON array"}},
		{name: "rule key misspelt", set: map[string]string{"X_STREAM_RULES": `[{"values":"cat"}]`}, want: []string{"X_STREAM_RULES:", "values"}},
		{name: "rule without value", set: map[string]string{"X_STREAM_RULES": `[{"tag":"cats"}]`}, want: []string{"X_STREAM_RULES: rule 0 has no value"}},
		{name: "unknown stream parameter", set: map[string]string{"X_STREAM_PARAMS": "tweet.fields=lang&max_results=10"},
			want: []string{`X_STREAM_PARAMS: "max_results"`}},
		{name: "bad durations", set: map[string]string{"STREAM_DURATION": "soon", "LEASE_TTL": "0s"},
			want: []string{"STREAM_DURATION:", "LEASE_TTL:"}},
		{name: "bad base URL", set: map[string]string{"X_API_BASE_URL": "api.x.com"}, want: []string{"X_API_BASE_URL:"}},
		{name: "backfill out of range", set: map[string]string{"STREAM_BACKFILL_MINUTES": "6"}, want: []string{"STREAM_BACKFILL_MINUTES:"}},
		{name: "backfill in the stream parameters", set: map[string]string{"X_STREAM_PARAMS": "backfill_minutes=2"},
			want: []string{"X_STREAM_PARAMS: backfill_minutes belongs in STREAM_BACKFILL_MINUTES"}},
		{name: "lease wait too long", set: map[string]string{"LEASE_WAIT": "1h"}, want: []string{"LEASE_WAIT:"}},
		{name: "lease doc is a collection", set: map[string]string{"LEASE_DOC": "leases"}, want: []string{"LEASE_DOC:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.set {
				env[k] = v
			}
			for _, k := range tt.unset {
				delete(env, k)
			}
			_, err := LoadConfig(config.Map(env))
			if err == nil {
				t.Fatalf("LoadConfig() error = nil, want one naming %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadConfig() error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadConfigEmptyRulesLeaveRulesAlone(t *testing.T) {
	for _, rules := range []string{"", " ", "[]"} {
		c, err := LoadConfig(config.Map(map[string]string{
			"GOOGLE_CLOUD_PROJECT": "p", "EVENTS_TOPIC": "events", "X_BEARER_TOKEN": "tok", "X_STREAM_RULES": rules,
		}))
		if err != nil || c.Rules != nil {
			t.Errorf("LoadConfig(X_STREAM_RULES=%q) = rules %v, error %v; want nil, nil", rules, c.Rules, err)
		}
	}
}
