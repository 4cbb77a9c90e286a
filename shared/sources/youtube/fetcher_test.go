package youtube

import (
	"context"
	"strings"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// TestFetcherWithoutGrant: an instance deployed without the grant fails YouTube tasks only, as
// Transient (the deployment can be fixed while the task waits), naming the settings to set.
func TestFetcherWithoutGrant(t *testing.T) {
	task := backfill.TaskSpec{JobID: "bf-1", Shard: "video=a/2026-01-01..2026-01-01", Source: Name}
	backfill.SetRequest(&task, &YouTubeQuery{IDs: "channel==MINE", StartDate: "2026-01-01", EndDate: "2026-01-01", Metrics: []string{"views"}})
	_, err := Source{}.NewFetcher(backfill.Deps{}).Fetch(context.Background(), task)
	if k := sources.KindOf(err); k != sources.Transient {
		t.Errorf("Fetch() kind = %v, want Transient (err %v)", k, err)
	}
	if err == nil || !strings.Contains(err.Error(), "YOUTUBE_REFRESH_TOKEN_SECRET") {
		t.Errorf("Fetch() = %v, want an error naming YOUTUBE_REFRESH_TOKEN_SECRET", err)
	}
}
