package collectevents

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/functest"
)

func TestLoadConfig(t *testing.T) {
	functest.CheckLoadConfig(t, LoadConfig, []functest.ConfigCase[Config]{
		{
			Name: "defaults",
			Env:  map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "EVENTS_TOPIC": "app-events"},
			Want: Config{Project: "p", Topic: "app-events", DedupCollection: "collect_events_seen",
				DedupTTL: 24 * time.Hour, MaxBodyBytes: 5 << 20, MaxEvents: 1000,
				WriteKeysCollection: "collect_write_keys", WriteKeyTTL: 30 * time.Second, RateLimitShares: 1},
		},
		{
			Name: "everything set",
			Env: map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "EVENTS_TOPIC": "t", "DEDUP_COLLECTION": "seen",
				"DEDUP_TTL": "2h", "MAX_BODY_BYTES": "65536", "MAX_EVENTS": "50",
				"WRITE_KEYS_COLLECTION": "keys", "WRITE_KEY_TTL": "10m", "REQUIRE_WRITE_KEY": "true", "RATE_LIMIT_SHARES": "1000"},
			Want: Config{Project: "p", Topic: "t", DedupCollection: "seen", DedupTTL: 2 * time.Hour, MaxBodyBytes: 65536, MaxEvents: 50,
				WriteKeysCollection: "keys", WriteKeyTTL: 10 * time.Minute, RequireWriteKey: true, RateLimitShares: 1000},
		},
		{
			Name: "every problem reported",
			Env: map[string]string{"DEDUP_TTL": "soon", "MAX_BODY_BYTES": "1", "MAX_EVENTS": "0",
				"WRITE_KEY_TTL": "11m", "RATE_LIMIT_SHARES": "1001"},
			WantErr: []string{"GOOGLE_CLOUD_PROJECT: required", "EVENTS_TOPIC: required", "DEDUP_TTL", "MAX_BODY_BYTES", "MAX_EVENTS", "WRITE_KEY_TTL", "RATE_LIMIT_SHARES"},
		},
	})
}

// TestEntryPointRegistered serves the test binary's registered functions through the Functions
// Framework and checks that exactly one, CollectEvents, is registered and reaches this package's
// handler.
func TestEntryPointRegistered(t *testing.T) {
	names, base := functest.RegisteredEntryPoints(t, "GOOGLE_CLOUD_PROJECT", "EVENTS_TOPIC")
	if diff := cmp.Diff([]string{EntryPoint}, names); diff != "" {
		t.Errorf("registered functions mismatch (-want +got):\n%s", diff)
	}
	// No configuration in the child: the handler answers why, which shows it is this package's.
	if code, body := functest.Request(t, http.MethodPost, base+"/"+EntryPoint, "[]"); code != http.StatusInternalServerError || !strings.Contains(body, "GOOGLE_CLOUD_PROJECT: required but not set") {
		t.Errorf("POST /%s = %d %s, want 500 naming GOOGLE_CLOUD_PROJECT", EntryPoint, code, body)
	}
	if code, body := functest.Request(t, http.MethodGet, base+"/SomethingElse", ""); code != http.StatusNotFound {
		t.Errorf("GET /SomethingElse = %d %s, want 404", code, body)
	}
}
