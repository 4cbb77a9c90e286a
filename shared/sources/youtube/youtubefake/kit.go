package youtubefake

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"
)

// Kit is the fake as the local stack runs it: a job of 2 videos over 5 days, a task a day.
var Kit = sourcestest.Kit{
	Source: youtube.Name,
	Start: func(_ sourcestest.Stack, opts []sourcestest.Option) (sourcestest.Fake, error) {
		return NewYouTubeServer(opts...), nil
	},
	Spec: func(_ sourcestest.Fake, end time.Time) []byte { return Spec(2, 5, "day", end) },
	Rows: 2 * 5,
	Sized: func(_ sourcestest.Fake, videos, days int, chunk string, end time.Time) ([]byte, int) {
		return Spec(videos, days, chunk, end), videos * days
	},
}

// Spec is the spec of a daily YouTube Analytics backfill of videos v0001..vN over the days days
// ending at end.
func Spec(videos, days int, chunk string, end time.Time) []byte {
	ids := make([]string, videos)
	for i := range ids {
		ids[i] = fmt.Sprintf("v%04d", i+1)
	}
	spec := map[string]any{
		"source": youtube.Name,
		youtube.Name: map[string]any{
			"video_ids": ids, "metrics": []string{"views", "likes"}, "dimensions": []string{"day"},
			"start": end.AddDate(0, 0, -(days - 1)).Format(time.DateOnly), "end": end.Format(time.DateOnly), "chunk": chunk,
		},
	}
	b, _ := json.Marshal(spec)
	return b
}
