package youtube_test

import (
	"context"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// A token living less than twice TokenRefreshMargin is kept for half its lifetime, not
// refreshed on every query (which a 5-minute margin on a 60 s token would do).
func TestShortTokenRefreshedAtHalfLife(t *testing.T) {
	clock := newFakeClock()
	srv, yt := newYouTube(t, clock.Now, 0, sourcestest.WithTokenTTL(time.Minute))
	steps := []struct {
		advance       time.Duration
		wantRefreshes int
	}{
		{0, 1},                // first query fetches a token
		{20 * time.Second, 1}, // 40 s left of 60: reused
		{9 * time.Second, 1},  // 31 s left: reused
		{2 * time.Second, 2},  // 29 s left, under half its life: refreshed
		{29 * time.Second, 2}, // new token has 31 s left
		{2 * time.Second, 3},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if _, err := yt.Query(context.Background(), dailyQuery()); err != nil {
			t.Fatalf("step %d: Query() error = %v", i, err)
		}
		if got := srv.Stats().TokenRefreshes; got != s.wantRefreshes {
			t.Errorf("step %d: TokenRefreshes = %d, want %d", i, got, s.wantRefreshes)
		}
	}
	if got := srv.Stats().ByStatus[401]; got != 0 {
		t.Errorf("401 responses = %d, want 0 (tokens must be replaced before they expire)", got)
	}
}
