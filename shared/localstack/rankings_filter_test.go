package localstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRankingsFilterIsTheFunctions: the filter the stack's rankings subscription gets from the
// topology is the function's (functions/updaterankings.Filter, which this package may not import,
// so its source is read).
func TestRankingsFilterIsTheFunctions(t *testing.T) {
	b, err := readModuleFile("functions/updaterankings/updaterankings.go")
	if err != nil {
		t.Fatal(err)
	}
	_, opts, err := subscriptionOptions(RankingsSub)
	if err != nil {
		t.Fatal(err)
	}
	rankingsFilter := opts.Filter
	for _, kind := range []string{"tweet", "retweet", "reply", "quote", "delete", "search", "detail_view"} {
		clause := `attributes.kind = "` + kind + `"`
		if !strings.Contains(string(b), clause) || !strings.Contains(rankingsFilter, clause) {
			t.Errorf("%s is not in both filters", clause)
		}
	}
	if n, m := strings.Count(rankingsFilter, " OR "), strings.Count(string(b), " OR "); n != m {
		t.Errorf("the local filter has %d ORs, the function's %d", n, m)
	}
}

func readModuleFile(rel string) ([]byte, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(root, rel))
}
