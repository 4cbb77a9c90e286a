package terraform_test

import (
	"archive/zip"
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	return uploadedFrom(t, "..")
}

// uploadedFrom lists what gcloud uploads from the directory root.
func uploadedFrom(t *testing.T, root string) (files map[string]bool, how string) {
	t.Helper()
	files = map[string]bool{}
	if gcloud, err := exec.LookPath("gcloud"); err == nil {
		cmd := exec.Command(gcloud, "meta", "list-files-for-upload", ".")
		cmd.Dir = root
		if out, err := cmd.Output(); err == nil {
			for _, f := range strings.Fields(string(out)) {
				files[filepath.ToSlash(f)] = true
			}
			return files, "gcloud meta list-files-for-upload"
		}
	}
	ig := readIgnore(t, filepath.Join(root, ".gcloudignore"))
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
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

// TestArchiveMatchesUpload builds the source zip with Terraform's real archive provider, in a copy
// of the repository with the files a working tree gathers (Terraform state and workspaces, test
// files, testdata), and compares its file list with what gcloud uploads from the same copy: one
// .gcloudignore, read by both, must leave out the same files.
func TestArchiveMatchesUpload(t *testing.T) {
	tf := terraformWithProviders(t)
	root := t.TempDir()
	copyTree(t, "..", root, map[string]bool{".git": true, "terraform/.terraform": true, "bin": true})
	const state = `{"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "test", "outputs": {}, "resources": []}`
	for f, content := range map[string]string{
		"terraform/terraform.tfstate":                             state,
		"terraform/terraform.tfstate.d/staging/terraform.tfstate": state,
		"terraform/tests/extra.tftest.hcl":                        "# left out\n",
		"terraform/my.auto.tfvars":                                "# left out\n",
		"functions/loadevents/extra_test.go":                      "package loadevents\n",
		"shared/event/testdata/extra.json":                        "{}\n",
	} {
		writeFile(t, filepath.Join(root, f), content)
	}

	dir := filepath.Join(root, "terraform")
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(tf, args...)
		cmd.Dir = dir
		// Plan only the archive: no Google call is made, and the token is never sent.
		cmd.Env = append(os.Environ(), "GOOGLE_OAUTH_ACCESS_TOKEN=offline-test-token", "TF_IN_AUTOMATION=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("init", "-backend=false", "-input=false")
	run("plan", "-target=data.archive_file.source", "-var=project_id=pk-test-project", "-input=false", "-lock=false")

	zr, err := zip.OpenReader(filepath.Join(dir, ".terraform", "pipelinekit-source.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var zipped []string
	for _, f := range zr.File {
		zipped = append(zipped, f.Name)
	}
	sort.Strings(zipped)
	files, how := uploadedFrom(t, root)
	if diff := cmp.Diff(keys(files), zipped); diff != "" {
		t.Errorf("the source zip differs from the upload (by %s) (-upload +zip):\n%s", how, diff)
	}
	in := map[string]bool{}
	for _, f := range zipped {
		in[f] = true
	}
	for _, f := range buildFiles(t) {
		if !in[f] {
			t.Errorf("%s is needed to build the functions but left out of the zip", f)
		}
	}
}

// terraformWithProviders returns the terraform binary, or skips the test when Terraform or its
// providers cannot be had (no registry, no mirror: TF_CLI_CONFIG_FILE names the mirror's config).
func terraformWithProviders(t *testing.T) string {
	t.Helper()
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH: install Terraform >= 1.5 to build the source zip")
	}
	if testing.Short() {
		t.Skip("-short: not running Terraform")
	}
	probe := t.TempDir()
	writeFile(t, filepath.Join(probe, "main.tf"), `terraform {
  required_providers {
    archive = { source = "hashicorp/archive", version = ">= 2.5, < 3.0" }
  }
}
`)
	cmd := exec.Command(tf, "init", "-backend=false", "-input=false")
	cmd.Dir = probe
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("terraform init cannot install hashicorp/archive (no registry, and TF_CLI_CONFIG_FILE names no mirror): %v\n%s", err, out)
	}
	return tf
}

// copyTree copies the regular files under src into dst, skipping the paths (relative to src) in skip.
func copyTree(t *testing.T, src, dst string, skip map[string]bool) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if skip[filepath.ToSlash(rel)] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, filepath.Join(dst, rel), string(b))
		return nil
	})
	if err != nil {
		t.Fatalf("copying %s: %v", src, err)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
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
		if rest, ok := strings.CutPrefix(line, "**/"); ok && !strings.Contains(rest, "/") {
			line = rest // at any depth: matched against the base name
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

// TestIgnoreFileIsTheSharedSubset: terraform/functions.tf reads .gcloudignore too, and the archive
// provider matches only patterns anchored at the root or "**/name" alike.
func TestIgnoreFileIsTheSharedSubset(t *testing.T) {
	b, err := os.ReadFile("../.gcloudignore")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rest, any := strings.CutPrefix(line, "**/")
		switch {
		case any && !strings.Contains(strings.TrimSuffix(rest, "/"), "/"):
		case strings.HasPrefix(line, "/"), strings.HasPrefix(line, "!/") && strings.HasSuffix(line, "/"):
		default:
			t.Errorf(".gcloudignore:%d %q: use /path (from the root), **/name (any depth) or !/dir/ (a re-included folder)", i+1, line)
		}
	}
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
