package xsearch

import (
	"context"
	"strings"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// TestFetcherWithoutSettings: an instance deployed without the bearer token (or the events
// topic) fails x_search tasks only, as Transient, naming what to set.
func TestFetcherWithoutSettings(t *testing.T) {
	task := backfill.TaskSpec{JobID: "bf-1", Shard: "slice=1", Source: Name}
	backfill.SetRequest(&task, &XSearchQuery{Query: "#gcp"})
	tests := []struct {
		name string
		d    backfill.Deps
	}{
		{"no token", backfill.Deps{}},
		{"no events topic", backfill.Deps{Settings: backfill.Settings{EnvBearerToken: {Secret: backfill.Credential{Value: "t"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Source{}.NewFetcher(tt.d).Fetch(context.Background(), task)
			if k := sources.KindOf(err); k != sources.Transient {
				t.Errorf("Fetch() kind = %v, want Transient (err %v)", k, err)
			}
			if err == nil || !strings.Contains(err.Error(), "X_BEARER_TOKEN_SECRET and EVENTS_TOPIC") {
				t.Errorf("Fetch() = %v, want an error naming X_BEARER_TOKEN_SECRET and EVENTS_TOPIC", err)
			}
		})
	}
}
