package pipelinekit

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// limitsDoc is the page whose table lists every input's bound.
const limitsDoc = "docs/limits.md"

// TestLimitsTableNamesRealTests keeps the Limits table (docs/limits.md) honest: every row names
// at least one test, as dir.TestName (or dir.FuzzName), and each named test exists in that
// directory's test files. A row added to the README instead fails here too.
func TestLimitsTableNamesRealTests(t *testing.T) {
	if readme, err := os.ReadFile("README.md"); err != nil {
		t.Fatal(err)
	} else if strings.Contains(string(readme), "\n## Limits\n") {
		t.Errorf("README.md has a Limits section: its rows belong in %s", limitsDoc)
	}
	b, err := os.ReadFile(limitsDoc)
	if err != nil {
		t.Fatal(err)
	}
	section := string(b)
	ref := regexp.MustCompile("`((?:[a-z0-9_]+/)*[a-z0-9_]+|\\.)\\.((?:Test|Fuzz)[A-Za-z0-9_]+)`")
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| Input") {
			continue
		}
		rows++
		cells := strings.Split(strings.Trim(line, "|"), "|")
		refs := ref.FindAllStringSubmatch(cells[len(cells)-1], -1)
		if len(refs) == 0 {
			t.Errorf("row names no test (want `dir.TestName` in its last column): %s", line)
		}
		for _, m := range refs {
			dir, name := m[1], m[2]
			files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
			found := false
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if regexp.MustCompile(`(?m)^func ` + name + `\(`).Match(src) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("the Limits table names %s.%s, which is not a test in %s", dir, name, dir)
			}
		}
	}
	if rows < 40 {
		t.Errorf("the Limits table has %d rows; every input's bound belongs there", rows)
	}
}
