package pipelinekit

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestLimitsTableNamesRealTests keeps the README's Limits table honest: every row names at
// least one test, as dir.TestName (or dir.FuzzName), and each named test exists in that
// directory's test files.
func TestLimitsTableNamesRealTests(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Limits\n")
	if !ok {
		t.Fatal(`README.md has no "## Limits" section`)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
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
