package pipelinekit

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// The docs tests keep README.md and docs/*.md true: every command they show runs in a test or is
// listed as deliberately untested (docCommands), every flag of a `go run ./scripts/...` command
// is one the script defines, every environment variable, Terraform variable and HTTP route they
// name exists, every relative link and anchor resolves, and every package's doc points to a
// topic page.

// pendingPages are topic pages the README's map names that other changes are adding; a link to
// one resolves once the page exists. Remove a name when its page lands.
var pendingPages = map[string]bool{}

// docPages returns README.md and every docs/*.md, as slash paths from the module root.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, p := range pages {
		out = append(out, filepath.ToSlash(p))
	}
	return out
}

func readPage(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var fence = regexp.MustCompile("(?ms)^[ \t]*```([a-z]*)\n(.*?)^[ \t]*```")

var doubleTicked = regexp.MustCompile("`` .+? ``")

// prose is a page without its fenced blocks and double-backtick spans (which hold backticks).
func prose(s string) string { return doubleTicked.ReplaceAllString(fence.ReplaceAllString(s, ""), "") }

// docCommand is a command the docs show, or the start of one, and how it is kept working.
type docCommand struct {
	prefix string // the command as shown, up to where its variants differ
	// by names what runs it: tests as dir.TestName (checked to exist), ".ci/run" (checked to
	// contain the command), or "./..." for packages .ci/run's `go test ./...` runs. Empty for a
	// command left untested on purpose.
	by []string
	// untested says why no test runs the command (it needs a real project, a person, ...).
	untested string
}

// docCommands lists every command the docs show (in ```sh blocks, after a `$ ` prompt, or as
// inline code starting with one of commandStarts). A command shown in the docs and missing
// here fails TestDocCommandsAreTested, and so does an entry no page shows any more.
var docCommands = []docCommand{
	{prefix: "go run ./scripts/dev --serve", by: []string{"scripts/dev.TestServeBanner"}},
	{prefix: "go run ./scripts/dev --data", by: []string{"scripts/dev.TestQueryFindsItsBigQuery"}},
	{prefix: "go run ./scripts/dev --no-checks", untested: "the same run as the demo without the checking proxies; the checks' absence is exercised by PIPELINEKIT_CHECKS=off, which tests do not set"},
	{prefix: "go run ./scripts/dev status", by: []string{"scripts/dev.TestStatus"}},
	{prefix: "go run ./scripts/dev query", by: []string{"scripts/dev.TestQuery", "shared/localstack.TestDocQueries"}},
	{prefix: "go run ./scripts/dev backfill", by: []string{"shared/localstack.TestBackfillEndToEnd"}},
	{prefix: "go run ./scripts/dev replay", by: []string{"shared/localstack.TestReplayAccountsForEveryLine"}},
	{prefix: "go run ./scripts/dev", by: []string{".ci/run"}},
	{prefix: "go run ./scripts/backfill", by: []string{"scripts/backfill.TestStartWatchesToDone", "scripts/backfill.TestDryRunPrintsThePlan", "scripts/backfill.TestListPrintsJobs", "scripts/backfill.TestRetryAndCancel"}},
	{prefix: "go build -o bin/backfill ./scripts/backfill", untested: "a plain go build; go vet ./... builds the same package"},
	{prefix: "go run ./scripts/redrive", by: []string{"shared/localstack/drills.TestDrillRedrive", "scripts/redrive.TestRunDryRun"}},
	{prefix: "go run ./scripts/bench", untested: "benchmarks take minutes and their figures depend on the machine; scripts/bench's unit tests cover its reporting"},
	{prefix: "go run ./scripts/bqemulator", untested: "a standalone server until Ctrl-C; its package (shared/emulators/bqemulator) is what the tests start"},
	{prefix: "go run ./scripts/tasksemulator", untested: "a standalone server until Ctrl-C; its package (shared/emulators/tasksemulator) is what the tests start"},
	{prefix: "go run ./scripts/topology", by: []string{"shared/topology.TestTopologyMatchesTerraform"}},
	{prefix: "go test ./...", by: []string{".ci/run"}},
	{prefix: "go test -timeout 30m ./...", untested: "the suite .ci/run runs with -timeout 20m; the bound is the developer's choice for a busier machine"},
	{prefix: "go test -count=1 ./...", by: []string{"./..."}},
	{prefix: "go test -v", by: []string{"./..."}},
	{prefix: "go build ./...", untested: "a measurement of the build; go vet ./... in .ci/run builds the same packages"},
	{prefix: "go test ./shared/deck/", by: []string{"./..."}},
	{prefix: "go test ./shared/localstack -run TestDeckInBrowserOnTheStack", by: []string{"shared/localstack.TestDeckInBrowserOnTheStack"}},
	{prefix: "go test ./shared/localstack -run TestServeSignsIn", by: []string{"shared/localstack.TestServeSignsIn"}},
	{prefix: "go test ./shared/localstack -run TestColumnLoadsItsHistory", by: []string{"shared/localstack.TestColumnLoadsItsHistory"}},
	{prefix: "go test ./terraform/", by: []string{"./..."}},
	{prefix: "go test ./terraform/schemas/", by: []string{"./..."}},
	{prefix: "go test -run X -bench Apply", untested: "a benchmark; its figures depend on the machine"},
	{prefix: "go test -bench BenchmarkPublishRatio", untested: "a benchmark against the Pub/Sub emulator; its figures depend on the machine"},
	{prefix: "BACKFILL_LARGE_TASK=1 go test -run TestLargeTaskStreamsWithBoundedMemory", by: []string{"functions/runbackfilltask.TestLargeTaskStreamsWithBoundedMemory"}},
	{prefix: "go list -deps -test ./...", untested: "a measurement of the module download, not a check"},
	{prefix: "go mod download", untested: "fetches every platform's DuckDB library (1.9 GB); shown to say it is not needed"},
	{prefix: "go env CGO_ENABLED", untested: "reads the developer's Go settings"},
	{prefix: "terraform init -backend=false", by: []string{".ci/run"}},
	{prefix: "terraform apply", untested: "creates resources in a real Google Cloud project; terraform/tests plan the same configuration offline"},
	{prefix: "cd terraform && terraform init && terraform apply", untested: "creates resources in a real Google Cloud project; terraform/tests plan the same configuration offline"},
	{prefix: "gcloud", untested: "acts on a real Google Cloud project or the developer's SDK installation"},
	{prefix: "printf '%s' \"$X_BEARER_TOKEN\" | gcloud secrets versions add", untested: "writes a secret of a real project"},
	{prefix: "openssl rand -base64 48 | gcloud secrets versions add", untested: "writes a secret of a real project"},
	{prefix: "scripts/deploy.sh", by: []string{"terraform.TestDeployScriptMatchesTerraform"}},
	{prefix: "export BACKFILL_URL=", untested: "a shell assignment, read by scripts/backfill (scripts/backfill.TestURLFromEnvironment)"},
	{prefix: "echo '{\"source\": \"youtube_analytics\",", untested: "writes the example spec; shared/backfill's registry test parses and plans each source's Example"},
	{prefix: "apt-get install", untested: "installs system packages"},
	{prefix: "ps -ef", untested: "looks for a developer's stray processes"},
	{prefix: "kill PID", untested: "stops a developer's stray process"},
	{prefix: "jcmd PID Thread.print", untested: "a JVM diagnostic used while measuring"},
}

// commandStarts are the words an inline code span starts with when it shows a command.
var commandStarts = []string{"go run ", "go test ", "go build ", "go list ", "go mod ", "go env ", "terraform init", "terraform apply",
	"gcloud ", "scripts/deploy.sh ", "BACKFILL_LARGE_TASK=", "apt-get ", "openssl ", "jcmd ", "ps -ef", "kill "}

var inlineCode = regexp.MustCompile("`([^`\n]+)`")

// shownCommands returns the commands a page shows, each with trailing comments removed and
// continuation lines joined.
func shownCommands(page string) []string {
	var out []string
	add := func(c string) {
		c = strings.TrimSpace(c)
		if i := strings.Index(c, "   #"); i >= 0 {
			c = strings.TrimSpace(c[:i])
		}
		if c != "" && !strings.HasPrefix(c, "#") {
			out = append(out, strings.Join(strings.Fields(c), " "))
		}
	}
	for _, m := range fence.FindAllStringSubmatch(page, -1) {
		lines := strings.Split(strings.ReplaceAll(m[2], "\\\n", " "), "\n")
		for i := 0; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			switch {
			case m[1] == "sh":
				if strings.HasPrefix(strings.TrimSpace(l), "echo '") { // a quoted spec over several lines
					for !strings.HasSuffix(strings.TrimSpace(lines[i]), "spec.json") && i+1 < len(lines) {
						i++
					}
				}
				add(l)
			case strings.HasPrefix(l, "$ "):
				add(strings.TrimPrefix(l, "$ "))
			}
		}
	}
	for _, m := range inlineCode.FindAllStringSubmatch(strings.ReplaceAll(prose(page), "\n", " "), -1) {
		for _, s := range commandStarts {
			if strings.HasPrefix(m[1], s) {
				add(m[1])
				break
			}
		}
	}
	return out
}

// testExists reports whether dir has a test function name ("." for the root package).
func testExists(t *testing.T, dir, name string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(filepath.FromSlash(dir), "*_test.go"))
	re := regexp.MustCompile(`(?m)^func ` + regexp.QuoteMeta(name) + `\(`)
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && re.Match(b) {
			return true
		}
	}
	return false
}

// TestDocCommandsAreTested: every command the docs show matches an entry of docCommands, each
// entry is shown somewhere, names what runs it or why nothing does, and what it names exists.
func TestDocCommandsAreTested(t *testing.T) {
	ci := readPage(t, ".ci/run")
	used := make([]bool, len(docCommands))
	for _, p := range docPages(t) {
		for _, c := range shownCommands(readPage(t, p)) {
			best := -1
			for i, e := range docCommands {
				if strings.HasPrefix(c, e.prefix) && (best < 0 || len(e.prefix) > len(docCommands[best].prefix)) {
					best = i
				}
			}
			if best < 0 {
				t.Errorf("%s shows `%s`, which docCommands does not list: name the test that runs it, or say why none does", p, c)
				continue
			}
			used[best] = true
		}
	}
	for i, e := range docCommands {
		if !used[i] {
			t.Errorf("docCommands lists %q, which no page shows any more", e.prefix)
		}
		if (len(e.by) == 0) == (e.untested == "") {
			t.Errorf("docCommands %q: give either the tests that run it or why it is untested", e.prefix)
		}
		for _, b := range e.by {
			if b == "./..." {
				if !strings.Contains(ci, "go test -timeout 20m ./...") {
					t.Errorf("docCommands %q says .ci/run's go test ./... runs it, but .ci/run runs no go test ./...", e.prefix)
				}
				continue
			}
			if b == ".ci/run" {
				if !strings.Contains(ci, strings.TrimPrefix(strings.TrimPrefix(e.prefix, "go run ./scripts/dev "), "go run ./scripts/")) && !strings.Contains(ci, e.prefix) {
					t.Errorf("docCommands %q says .ci/run runs it, but .ci/run does not", e.prefix)
				}
				continue
			}
			dir, name, ok := strings.Cut(b, ".T")
			if !ok || !testExists(t, dir, "T"+name) {
				t.Errorf("docCommands %q names %s, which is not a test", e.prefix, b)
			}
		}
	}
}

var (
	goRunScript = regexp.MustCompile(`^go run \./scripts/([a-z]+)(.*)$`)
	longFlag    = regexp.MustCompile(`(?:^|\s)--([a-z][a-z0-9-]*)`)
)

// TestDocScriptFlagsExist: every `go run ./scripts/NAME ... --flag` the docs show names a script
// that exists and a flag that script defines.
func TestDocScriptFlagsExist(t *testing.T) {
	defined := map[string]string{} // script -> its non-test source
	for _, p := range docPages(t) {
		for _, c := range shownCommands(readPage(t, p)) {
			m := goRunScript.FindStringSubmatch(c)
			if m == nil {
				continue
			}
			src, ok := defined[m[1]]
			if !ok {
				files, _ := filepath.Glob(filepath.Join("scripts", m[1], "*.go"))
				var sb strings.Builder
				for _, f := range files {
					if !strings.HasSuffix(f, "_test.go") {
						b, _ := os.ReadFile(f)
						sb.Write(b)
					}
				}
				src = sb.String()
				defined[m[1]] = src
			}
			if src == "" {
				t.Errorf("%s shows `%s`: scripts/%s is no Go package", p, c, m[1])
				continue
			}
			for _, f := range longFlag.FindAllStringSubmatch(m[2], -1) {
				if !strings.Contains(src, `"`+f[1]+`"`) {
					t.Errorf("%s shows `%s`: scripts/%s defines no flag --%s", p, c, m[1], f[1])
				}
			}
		}
	}
}

// notEnv are upper-case words in backticks that the docs use and that are not environment
// variables: status codes, Google API error codes, field types, placeholders.
var notEnv = map[string]bool{
	"PERMISSION_DENIED": true, "RESOURCE_EXHAUSTED": true, "DEADLINE_EXCEEDED": true, "TYPE_INTEGER": true,
	"UNAVAILABLE": true, "INTERNAL": true, "UNKNOWN": true, "INFO": true, "ERROR": true,
	"MY_PROJECT": true, "JOB_ID": true, "PROJECT_NUMBER": true, "REGION": true, "PID": true, "UID": true,
	"FLOAT64": true, "TTL": true, "DIR": true, "FILE": true, "PORT": true, "NAME": true, "TOKEN": true,
	"OUTCOME": true,
}

// goEnv are the Go toolchain's and runtime's variables the docs name.
var goEnv = map[string]bool{"CGO_ENABLED": true, "GOGC": true}

var envToken = regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b`)

// TestDocEnvVarsExist: every upper-case NAME_LIKE_THIS in the docs' code spans is read by the
// code (a string literal in Go source, tests included: BACKFILL_LARGE_TASK turns on a test),
// set by Terraform or by a script, read by the Go toolchain (goEnv), or listed in notEnv as
// something else.
func TestDocEnvVarsExist(t *testing.T) {
	var sb strings.Builder
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && p != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		ext := filepath.Ext(p)
		if ext == ".go" || ext == ".tf" || ext == ".sh" {
			b, err := os.ReadFile(p)
			sb.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sb.WriteString(readPage(t, ".ci/run"))
	code := sb.String()
	for _, p := range docPages(t) {
		seen := map[string]bool{}
		for _, m := range inlineCode.FindAllStringSubmatch(readPage(t, p), -1) {
			for _, n := range envToken.FindAllString(m[1], -1) {
				if seen[n] || notEnv[n] || goEnv[n] {
					continue
				}
				seen[n] = true
				if !strings.Contains(code, `"`+n+`"`) && !regexp.MustCompile(`\b`+n+`\b`).MatchString(code) {
					t.Errorf("%s names %s, which no code, Terraform file or script reads or sets (or add it to notEnv if it is no variable)", p, n)
				}
			}
		}
	}
}

var (
	tfVarDecl = regexp.MustCompile(`(?m)^variable "([a-z0-9_]+)"`)
	tfVarUse  = regexp.MustCompile(`\bvar\.([a-z0-9_]+)|-var '?([a-z0-9_]+)=`)
)

// TestDocTerraformVariablesExist: every `var.NAME` and `-var NAME=` in the docs is declared in
// terraform/variables.tf. (The configuration table's Terraform column is checked by
// terraform.TestConfigurationDocumentsEveryVariable.)
func TestDocTerraformVariablesExist(t *testing.T) {
	declared := map[string]bool{}
	for _, m := range tfVarDecl.FindAllStringSubmatch(readPage(t, "terraform/variables.tf"), -1) {
		declared[m[1]] = true
	}
	if len(declared) == 0 {
		t.Fatal("terraform/variables.tf declares no variable")
	}
	for _, p := range docPages(t) {
		for _, m := range tfVarUse.FindAllStringSubmatch(readPage(t, p), -1) {
			n := m[1] + m[2]
			if !declared[n] {
				t.Errorf("%s names Terraform variable %s, which terraform/variables.tf does not declare", p, n)
			}
		}
	}
}

// docRoute is an HTTP route a function or the local stack serves, and where its code matches it.
type docRoute struct {
	route   string // METHOD /path, {} for a path segment the caller chooses
	file    string
	literal string // what the file matches the route on
}

var docRoutes = []docRoute{
	{"POST /backfills", "functions/backfill/service.go", `path == "/backfills"`},
	{"GET /backfills", "functions/backfill/service.go", `s.list(w, r)`},
	{"GET /backfills/{}", "functions/backfill/service.go", `s.status(w, r, id)`},
	{"POST /backfills/{}:retry", "functions/backfill/service.go", `case "retry":`},
	{"POST /backfills/{}:cancel", "functions/backfill/service.go", `case "cancel":`},
	{"POST /backfills/{}:sweep", "functions/backfill/service.go", `case "sweep":`},
	{"POST /backfills:sweep", "functions/backfill/service.go", `path == "/backfills:sweep"`},
	{"GET /rankings", "functions/serverankings/handler.go", `path == "/rankings"`},
	{"GET /rankings/{}", "functions/serverankings/handler.go", `strings.HasPrefix(path, "/rankings/")`},
	{"GET /recent_views", "functions/serverankings/handler.go", `path == "/recent_views"`},
	{"GET /tweets", "functions/serverankings/handler.go", `path == "/tweets"`},
	{"GET /deck/backfills", "shared/deck/deck.go", `p == "/deck/backfills"`},
	{"GET /deck/backfills/{}", "shared/deck/deck.go", `strings.HasPrefix(p, "/deck/backfills/")`},
	{"GET /deck/health", "shared/deck/deck.go", `p == "/deck/health"`},
	{"POST /deck/history", "shared/deck/deck.go", `r.URL.Path == "/deck/history"`},
	{"GET /index.html", "functions/serverankings/deck.go", `rest == "/index.html"`},
	{"GET /deck/{}", "functions/serverankings/deck.go", `strings.HasPrefix(rest, "/deck/")`},
	{"GET /_stack/health", "shared/localstack/health.go", `StackPath + "health"`},
	{"GET /_stack/errors", "shared/localstack/fleet.go", `StackPath+"errors"`},
	{"POST /", "functions/collectevents/collector.go", `r.Method != http.MethodPost`},
	{"GET /collect.js", "functions/collectevents/script.go", `ScriptPath = "/collect.js"`},
	{"GET /me", "functions/serverankings/signin.go", `case p == "/me":`},
	{"GET /column_sets", "functions/serverankings/signin.go", `case p == "/column_sets"`},
	{"GET /column_sets/{}", "functions/serverankings/signin.go", `strings.HasPrefix(p, "/column_sets/")`},
	{"PUT /column_sets/{}", "functions/serverankings/signin.go", `strings.HasPrefix(p, "/column_sets/")`},
	{"DELETE /column_sets/{}", "functions/serverankings/signin.go", `strings.HasPrefix(p, "/column_sets/")`},
}

var (
	methodRoute = regexp.MustCompile("\\b(GET|POST|PUT|DELETE) (/[^\\s`)|,;]*)")
	tickedRoute = regexp.MustCompile("`((?:/rankings|/recent_views|/tweets|/backfills|/deck/|/_stack/|deck/backfills|deck/health|/index\\.html|/collect\\.js|/me|/column_sets)[^`]*)`")
	idSegment   = regexp.MustCompile(`^(\{[a-z_]+\}|\.\.\.|JOB_ID|bf-[0-9a-f]+|[a-z_]+_terms|hashtags|retweets|popularity|search_terms|\*\.js|\*\.css)$`)
)

// normalizeRoute strips the query and turns caller-chosen segments (ids, ranking names,
// placeholders) into {}.
func normalizeRoute(method, path string) string {
	path, _, _ = strings.Cut(path, "?")
	if !strings.HasSuffix(path, "...") {
		path = strings.TrimSuffix(path, ".") // a route ending a sentence
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if i < 2 {
			continue
		}
		head, action, hasAction := strings.Cut(s, ":")
		if idSegment.MatchString(head) {
			segs[i] = "{}"
			if hasAction {
				segs[i] += ":" + action
			}
		}
	}
	return method + " " + strings.Join(segs, "/")
}

// TestDocRoutesExist: every HTTP route the docs name (METHOD /path, or a backticked path of the
// functions' APIs) is in docRoutes, and each docRoutes entry is matched by its code.
func TestDocRoutesExist(t *testing.T) {
	known := map[string]bool{}
	paths := map[string]bool{}
	for _, r := range docRoutes {
		if !strings.Contains(readPage(t, r.file), r.literal) {
			t.Errorf("route %s: %s no longer contains %s", r.route, r.file, r.literal)
		}
		known[r.route] = true
		paths[strings.SplitN(r.route, " ", 2)[1]] = true
	}
	for _, p := range docPages(t) {
		s := readPage(t, p)
		for _, m := range methodRoute.FindAllStringSubmatch(s, -1) {
			if r := normalizeRoute(m[1], m[2]); !known[r] {
				t.Errorf("%s names %s %s (%s), which no function serves (docRoutes)", p, m[1], m[2], r)
			}
		}
		for _, m := range tickedRoute.FindAllStringSubmatch(s, -1) {
			path := m[1]
			if !strings.HasPrefix(path, "/") {
				path = "/" + path
			}
			if r := normalizeRoute("GET", path); !paths[strings.TrimPrefix(r, "GET ")] {
				t.Errorf("%s names the route `%s` (%s), which no function serves (docRoutes)", p, m[1], r)
			}
		}
	}
}

var (
	mdLink  = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile("(?m)^#{1,6} (.+)$")
)

// anchors returns the anchors GitHub gives a page's headings.
func anchors(page string) map[string]bool {
	out := map[string]bool{}
	count := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(prose(page), -1) {
		var sb strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				sb.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				sb.WriteRune(r)
			}
		}
		a := sb.String()
		if n := count[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		count[a]++
	}
	return out
}

// TestDocLinksResolve: every relative link of README.md and docs/*.md names a file that exists
// (or a page in pendingPages) and, with #anchor, a heading of that page.
func TestDocLinksResolve(t *testing.T) {
	for _, p := range docPages(t) {
		s := readPage(t, p)
		for _, m := range mdLink.FindAllStringSubmatch(prose(s), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			dest := p
			if file != "" {
				dest = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(p), file)))
			}
			if _, err := os.Stat(filepath.FromSlash(dest)); err != nil {
				if !pendingPages[dest] {
					t.Errorf("%s links to %s, which does not exist", p, target)
				}
				continue
			}
			if anchor != "" && strings.HasSuffix(dest, ".md") && !anchors(readPage(t, dest))[anchor] {
				t.Errorf("%s links to %s: %s has no heading with the anchor #%s", p, target, dest, anchor)
			}
		}
	}
}

var topicRef = regexp.MustCompile(`(docs/[a-z0-9-]+\.md)(?:#([a-z0-9_-]+))?`)

// TestPackageDocsPointToTopicPages: every package has a package comment that names the docs
// page a reader goes on to (and the page and its anchor exist), so the words in the code and in
// the docs meet.
func TestPackageDocsPointToTopicPages(t *testing.T) {
	dirs := map[string]bool{}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			dirs[filepath.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sorted []string
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted)
	for _, d := range sorted {
		pkgs, err := parser.ParseDir(token.NewFileSet(), d, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		var doc strings.Builder
		for _, pkg := range pkgs {
			for _, f := range pkg.Files {
				if f.Doc != nil {
					doc.WriteString(f.Doc.Text())
				}
			}
		}
		refs := topicRef.FindAllStringSubmatch(doc.String(), -1)
		switch {
		case doc.Len() == 0:
			t.Errorf("%s has no package comment", d)
		case len(refs) == 0:
			t.Errorf("%s's package comment names no topic page (docs/NAME.md)", d)
		}
		for _, r := range refs {
			if _, err := os.Stat(filepath.FromSlash(r[1])); err != nil {
				if !pendingPages[r[1]] {
					t.Errorf("%s's package comment names %s, which does not exist", d, r[1])
				}
			} else if r[2] != "" && !anchors(readPage(t, r[1]))[r[2]] {
				t.Errorf("%s's package comment names %s#%s: no such heading", d, r[1], r[2])
			}
		}
	}
}
