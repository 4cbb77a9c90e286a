package terraform_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// devOnly are root-package files the deployed build does without, left out of the upload and the
// archive on purpose.
var devOnly = map[string]string{}

// buildFiles lists, relative to the repository root, every file the Go buildpack needs: go.mod,
// go.sum and the source and embedded files of every package of this module that the root
// package (functions.go) imports, directly or not.
func buildFiles(t *testing.T) []string {
	t.Helper()
	const format = `{{with .Module}}{{if .Main}}{{$.Dir}}|{{join $.GoFiles ","}}|{{join $.CgoFiles ","}}|{{join $.CFiles ","}}|{{join $.HFiles ","}}|{{join $.SFiles ","}}|{{join $.EmbedFiles ","}}{{end}}{{end}}`
	cmd := exec.Command("go", "list", "-deps", "-f", format, ".")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps . in the repository root: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"go.mod", "go.sum"}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "|")
		if len(fields) < 2 {
			continue
		}
		rel, err := filepath.Rel(root, fields[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, list := range fields[1:] {
			for _, f := range strings.Split(list, ",") {
				p := path.Join(filepath.ToSlash(rel), f)
				if _, skip := devOnly[p]; f != "" && !skip {
					files = append(files, p)
				}
			}
		}
	}
	if len(files) < 10 {
		t.Fatalf("go list found only %v", files)
	}
	return files
}

// uploaded lists what `gcloud functions deploy --source=.` uploads, by asking gcloud (which reads
// .gcloudignore offline) or, without gcloud, by the simple reading of .gcloudignore below.
func uploaded(t *testing.T) (files map[string]bool, how string) {
	t.Helper()
	files = map[string]bool{}
	if gcloud, err := exec.LookPath("gcloud"); err == nil {
		cmd := exec.Command(gcloud, "meta", "list-files-for-upload", ".")
		cmd.Dir = ".."
		if out, err := cmd.Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				files[filepath.ToSlash(f)] = true
			}
			return files, "gcloud meta list-files-for-upload"
		}
	}
	ig := readIgnore(t, "../.gcloudignore")
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if ig.ignored(rel, d.IsDir()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			files[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, "the .gcloudignore patterns (gcloud is not on PATH)"
}

func TestUploadKeepsEveryBuildFile(t *testing.T) {
	files, how := uploaded(t)
	for _, f := range buildFiles(t) {
		if !files[f] {
			t.Errorf("%s is needed to build the functions but left out of the upload (by %s)", f, how)
		}
	}
	// And the upload is small: no tests, scripts or Terraform configuration.
	for f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "scripts/") || strings.HasSuffix(f, ".tf") || strings.HasPrefix(f, ".git/") {
			t.Errorf("%s is uploaded (by %s); .gcloudignore should leave it out", f, how)
		}
	}
}

// The buildpack serves only the entry points the root package's imports register.
func TestRootPackageImportsEveryFunction(t *testing.T) {
	dirs := map[string]bool{}
	for _, f := range buildFiles(t) {
		dirs[path.Dir(f)] = true
	}
	pkgs, err := filepath.Glob("../functions/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		rel := "functions/" + filepath.Base(p)
		if !dirs[rel] {
			t.Errorf("functions.go does not import %s: its entry point would not be served", rel)
		}
	}
	if len(pkgs) != len(functions) {
		t.Errorf("%d packages under functions/, %d in this test's functions table", len(pkgs), len(functions))
	}
}

func TestArchiveKeepsEveryBuildFile(t *testing.T) {
	m := loadModule(t)
	var archive *hclsyntax.Block
	for _, b := range m.blocks("data") {
		if b.Labels[0] == "archive_file" && b.Labels[1] == "source" {
			archive = b
		}
	}
	if archive == nil {
		t.Fatal("no data.archive_file.source")
	}
	call, ok := attr(t, archive, "excludes").(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "concat" || len(call.Args) != 2 {
		t.Fatalf("archive_file excludes = %s, want concat([fixed paths], [terraform/ files])", source(attr(t, archive, "excludes")))
	}
	excludes := map[string]bool{}
	for _, e := range stringList(literal(t, call.Args[0])) {
		excludes[e] = true
	}
	// The second list is fileset(path.module, "*"): the files directly in terraform/.
	if got := source(call.Args[1]); got != `[for f in fileset(path.module, "*") : "terraform/${f}"]` {
		t.Fatalf("second excludes list = %s", got)
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			excludes["terraform/"+e.Name()] = true
		}
	}
	// The archive provider skips a file whose path, or whose directory's path, is excluded.
	for _, f := range buildFiles(t) {
		for p := f; p != "."; p = path.Dir(p) {
			if excludes[p] {
				t.Errorf("%s is needed to build the functions but archive_file excludes %s", f, p)
			}
		}
	}
}

// ignoreRule is one line of a .gcloudignore (gitignore syntax, the subset used here).
type ignoreRule struct {
	pattern  string
	negate   bool
	dirOnly  bool
	anchored bool
}

type ignoreFile []ignoreRule

func readIgnore(t *testing.T, name string) ignoreFile {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var rules ignoreFile
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var r ignoreRule
		if r.negate = strings.HasPrefix(line, "!"); r.negate {
			line = line[1:]
		}
		if r.dirOnly = strings.HasSuffix(line, "/"); r.dirOnly {
			line = strings.TrimSuffix(line, "/")
		}
		r.anchored = strings.Contains(line, "/")
		r.pattern = strings.TrimPrefix(line, "/")
		rules = append(rules, r)
	}
	return rules
}

// ignored reports whether rel (slash-separated, relative to the root) is left out; the last
// matching rule decides, as in gitignore. Callers skip the contents of an ignored directory.
func (ig ignoreFile) ignored(rel string, isDir bool) bool {
	out := false
	for _, r := range ig {
		if r.dirOnly && !isDir {
			continue
		}
		name := rel
		if !r.anchored {
			name = path.Base(rel)
		}
		if ok, _ := path.Match(r.pattern, name); ok {
			out = !r.negate
		}
	}
	return out
}

func TestDevOnlyFilesAreLeftOut(t *testing.T) {
	files, how := uploaded(t)
	for f := range devOnly {
		if files[f] {
			t.Errorf("%s is uploaded (by %s); it is development-only", f, how)
		}
	}
}

func TestIgnoreRules(t *testing.T) {
	ig := readIgnore(t, "../.gcloudignore")
	cases := []struct {
		path  string
		isDir bool
		want  bool
	}{
		{"scripts", true, true},
		{"terraform/main.tf", false, true},
		{"terraform/schemas", true, false},
		{"terraform/schemas/tweets.json", false, false},
		{"functions/loadevents/loader_test.go", false, true},
		{"functions/loadevents/loader.go", false, false},
		{"shared/xstream/testdata", true, true},
		{"go.mod", false, false},
	}
	for _, c := range cases {
		if got := ig.ignored(c.path, c.isDir); got != c.want {
			t.Errorf("ignored(%q) = %v, want %v", c.path, got, c.want)
		}
	}
}
