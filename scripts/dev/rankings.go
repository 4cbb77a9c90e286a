package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// rankingUsers are the demo's users whose recent views the summary shows.
var rankingUsers = []string{"u1"}

// checkRankings waits until ServeRankings' rankings equal their SQL truth (the rankings
// subscription is delivered apart from the loader's), prints the 15-minute ones side by side
// and records any difference as a problem.
func checkRankings(ctx context.Context, s *localstack.Stack, out io.Writer, sum *demoSummary) error {
	checks, err := s.WaitRankings(ctx, rankingUsers, 30*time.Second)
	if err != nil {
		return fmt.Errorf("checking the rankings: %w", err)
	}
	sum.Rankings = checks
	fmt.Fprintf(out, "   rankings, window 15m (from ServeRankings | the same by SQL over the dedup views):\n")
	for _, c := range checks {
		if !c.Equal {
			sum.Problems = append(sum.Problems, fmt.Sprintf("ranking %s %s differs from its SQL truth", c.Ranking, c.Window))
		}
		if c.Window != "15m" && c.Ranking != "recent_views" {
			continue
		}
		title := c.Ranking
		if c.Ranking == "recent_views" {
			title = "recent_views of " + c.Window
		}
		fmt.Fprintf(out, "     %-24s equal: %v\n", title, c.Equal)
		for i := range min(max(len(c.Served), len(c.Truth)), 3) {
			fmt.Fprintf(out, "       %-40s | %s\n", itemText(c.Served, i), itemText(c.Truth, i))
		}
	}
	return nil
}

func itemText(items []rankings.Item, i int) string {
	if i >= len(items) {
		return "-"
	}
	it := items[i]
	if it.Count == 0 { // recent views: the key and the time of the view
		return it.Key
	}
	s := fmt.Sprintf("%-22s %d", strings.TrimSpace(it.Key), it.Count)
	if it.AuthorHandle != "" {
		s += " @" + it.AuthorHandle
	}
	return s
}
