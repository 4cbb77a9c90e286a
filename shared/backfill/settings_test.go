package backfill_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
	"github.com/pipelinekit/pipelinekit/shared/config"
)

// TestReadSettings reads the registered sources' settings through the one loop: the names are
// the variables deployments already set, a Secret reads <ENV>_SECRET or <ENV>, a setting two
// sources declare (the Google grant) is read once and given to both, and the Backfill function
// (spec) reads only what validation needs.
func TestReadSettings(t *testing.T) {
	const idSecret = "projects/p/secrets/youtube-client-id/versions/1"
	tests := []struct {
		name    string
		env     map[string]string
		spec    bool
		want    backfill.SourceSettings
		wantErr []string
	}{
		{name: "nothing set", env: nil, want: nil},
		{
			name: "spec reads the allow-list only",
			env:  map[string]string{"HTTP_JSON_ALLOWED_HOSTS": "a.example.com, b.example.com", "YOUTUBE_API_BASE_URL": "http://127.0.0.1:1/"},
			spec: true,
			want: backfill.SourceSettings{"http_json": {"HTTP_JSON_ALLOWED_HOSTS": {List: []string{"a.example.com", "b.example.com"}}}},
		},
		{
			name: "the grant's secrets go to youtube and ga4",
			env:  map[string]string{"YOUTUBE_CLIENT_ID_SECRET": idSecret, "YOUTUBE_CLIENT_SECRET": "s", "YOUTUBE_REFRESH_TOKEN": "t", "GA4_API_BASE_URL": "http://127.0.0.1:2/"},
			want: backfill.SourceSettings{
				"youtube_analytics": {"YOUTUBE_CLIENT_ID": {Secret: backfill.Credential{Secret: idSecret}},
					"YOUTUBE_CLIENT_SECRET": {Secret: backfill.Credential{Value: "s"}}, "YOUTUBE_REFRESH_TOKEN": {Secret: backfill.Credential{Value: "t"}}},
				"ga4": {"YOUTUBE_CLIENT_ID": {Secret: backfill.Credential{Secret: idSecret}},
					"YOUTUBE_CLIENT_SECRET": {Secret: backfill.Credential{Value: "s"}}, "YOUTUBE_REFRESH_TOKEN": {Secret: backfill.Credential{Value: "t"}},
					"GA4_API_BASE_URL": {Text: "http://127.0.0.1:2/"}},
			},
		},
		{
			name:    "a credential's value is refused deployed, once although two sources declare it",
			env:     map[string]string{"YOUTUBE_CLIENT_ID": "id", "YOUTUBE_CLIENT_SECRET_SECRET": idSecret, "YOUTUBE_REFRESH_TOKEN_SECRET": idSecret, "K_SERVICE": "runbackfilltask"},
			wantErr: []string{"YOUTUBE_CLIENT_ID: a credential in the environment is for local runs only; deployed functions (K_SERVICE is set) read YOUTUBE_CLIENT_ID_SECRET"},
		},
		{
			name:    "x_search's token is refused deployed, as StreamTweets refuses it",
			env:     map[string]string{"X_BEARER_TOKEN": "tok", "K_SERVICE": "runbackfilltask"},
			wantErr: []string{"X_BEARER_TOKEN: a credential in the environment is for local runs only; deployed functions (K_SERVICE is set) read X_BEARER_TOKEN_SECRET"},
		},
		{
			name: "x_search's token, local",
			env:  map[string]string{"X_BEARER_TOKEN": "tok"},
			want: backfill.SourceSettings{"x_search": {"X_BEARER_TOKEN": {Secret: backfill.Credential{Value: "tok"}}}},
		},
		{
			name:    "a base URL that is not one",
			env:     map[string]string{"X_API_BASE_URL": "api.x.com"},
			wantErr: []string{"X_API_BASE_URL"},
		},
		{
			name:    "part of the grant",
			env:     map[string]string{"YOUTUBE_REFRESH_TOKEN_SECRET": idSecret},
			wantErr: []string{"YOUTUBE_REFRESH_TOKEN_SECRET: the YouTube client id, client secret and refresh token are needed together: 1 of 3 are set"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := config.New(config.Map(tt.env))
			got := backfill.ReadSettings(env, tt.spec)
			err := env.Err()
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("ReadSettings() error = %v", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ReadSettings() mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("ReadSettings() error = nil, want %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if n := strings.Count(err.Error(), w); n != 1 {
					t.Errorf("ReadSettings() error = %v, want %q once (found %d times)", err, w, n)
				}
			}
		})
	}
}

// TestEverySourceSettingIsNamedOnce: no two sources declare one variable with different kinds,
// and every Secret's variables are distinct from every other setting's.
func TestEverySourceSettingIsNamedOnce(t *testing.T) {
	kinds := map[string]backfill.SettingKind{}
	for _, src := range backfill.Sources() {
		for _, st := range src.Settings() {
			if k, ok := kinds[st.Env]; ok && k != st.Kind {
				t.Errorf("%s declares %s as kind %d, another source as %d", src.Name(), st.Env, st.Kind, k)
			}
			kinds[st.Env] = st.Kind
		}
	}
	for env, k := range kinds {
		if _, ok := kinds[env+"_SECRET"]; ok && k == backfill.Secret {
			t.Errorf("%s_SECRET is both a setting and %s's secret variable", env, env)
		}
	}
}
