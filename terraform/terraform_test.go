package terraform_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/functions/backfill"
	"github.com/pipelinekit/pipelinekit/functions/collectevents"
	"github.com/pipelinekit/pipelinekit/functions/loadevents"
	"github.com/pipelinekit/pipelinekit/functions/runbackfilltask"
	"github.com/pipelinekit/pipelinekit/functions/serverankings"
	"github.com/pipelinekit/pipelinekit/functions/streamtweets"
	"github.com/pipelinekit/pipelinekit/functions/updaterankings"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"
)

// function is one deployed entry point as the Go code defines it.
type function struct {
	entryPoint string
	// envNames calls the package's LoadConfig with a lookup that finds nothing and returns the
	// names it asked for.
	envNames func() []string
}

// recorded returns a LoadConfig wrapper that records every variable name looked up.
func recorded[C any](load func(func(string) (string, bool)) (C, error)) func() []string {
	return func() []string {
		seen := map[string]bool{}
		_, _ = load(func(name string) (string, bool) { seen[name] = true; return "", false }) // errors expected: nothing is set
		return keys(seen)
	}
}

// functions is every function package. A new function package adds a row here.
var functions = []function{
	{streamtweets.EntryPoint, recorded(streamtweets.LoadConfig)},
	{collectevents.EntryPoint, recorded(collectevents.LoadConfig)},
	{loadevents.EntryPoint, recorded(loadevents.LoadConfig)},
	{backfill.EntryPoint, recorded(backfill.LoadConfig)},
	{runbackfilltask.EntryPoint, recorded(runbackfilltask.LoadConfig)},
	{updaterankings.EntryPoint, recorded(updaterankings.LoadConfig)},
	{serverankings.EntryPoint, recorded(serverankings.LoadConfig)},
}

// localOnly are variables the code reads that a deployment must not set.
var localOnly = map[string]string{
	"X_BEARER_TOKEN":        "the token itself, for local runs; deployed functions read X_BEARER_TOKEN_SECRET",
	"YOUTUBE_CLIENT_ID":     "a credential itself, for local runs; deployed functions read YOUTUBE_CLIENT_ID_SECRET",
	"YOUTUBE_CLIENT_SECRET": "a credential itself, for local runs; deployed functions read YOUTUBE_CLIENT_SECRET_SECRET",
	"YOUTUBE_REFRESH_TOKEN": "a credential itself, for local runs; deployed functions read YOUTUBE_REFRESH_TOKEN_SECRET",
	"RECENT_VIEWS_KEY":      "a key itself, for local runs; deployed, ServeRankings reads RECENT_VIEWS_KEY_SECRET",
	"ALLOW_PRIVATE_HOSTS":   "lets sources reach private addresses, which only the local stack's fakes need",
	"YOUTUBE_TOKEN_URL":     "points the YouTube client at a local fake; production uses Google's",
	"YOUTUBE_API_BASE_URL":  "points the YouTube client at a local fake; production uses Google's",
	"GA4_API_BASE_URL":      "points the GA4 Data API client at a local fake; production uses Google's",
	"X_API_BASE_URL":        "points the X client at a local fake; production uses X's",
	"LOG_LEVEL":             "a debugging knob, unset in production",
	"K_SERVICE":             "set by Cloud Run itself on every deployed function",
	"DECK_HEALTH_URL":       "the local stack's health endpoint; deployed, the deck shows no health panel",
}

func skipEnv(name string) bool {
	_, ok := localOnly[name]
	return ok || strings.HasSuffix(name, "_EMULATOR_HOST")
}

func TestEveryEntryPointHasExactlyOneFunction(t *testing.T) {
	m := loadModule(t)
	var registered []string
	for _, f := range functions {
		registered = append(registered, f.entryPoint)
	}
	sort.Strings(registered)
	declared := keys(objectKeys(t, m.local(t, "functions")))
	if diff := cmp.Diff(registered, declared); diff != "" {
		t.Errorf("entry points of locals.functions differ from the Go packages' EntryPoint (-go +terraform):\n%s", diff)
	}

	// One resource serves every function, and its entry point is the map key.
	fn := m.resource(t, "google_cloudfunctions2_function", "function")
	if got := source(attr(t, fn, "for_each")); !strings.Contains(got, "local.functions") {
		t.Errorf("google_cloudfunctions2_function.function for_each = %s, want it over local.functions", got)
	}
	if got := source(attr(t, fn, "build_config", "entry_point")); got != "each.key" {
		t.Errorf("build_config.entry_point = %s, want each.key", got)
	}
	if got := source(attr(t, fn, "build_config", "runtime")); got != "local.runtime" {
		t.Errorf("build_config.runtime = %s, want local.runtime", got)
	}
	if n := countResources(m, "google_cloudfunctions2_function"); n != 1 {
		t.Errorf("%d google_cloudfunctions2_function resources, want 1 (for_each over local.functions)", n)
	}
}

func countResources(m *module, typ string) int {
	n := 0
	for _, b := range m.blocks("resource") {
		if b.Labels[0] == typ {
			n++
		}
	}
	return n
}

func TestRuntimeMatchesGoMod(t *testing.T) {
	m := loadModule(t)
	if got := literal(t, m.local(t, "runtime")).AsString(); got != "go126" {
		t.Errorf("local.runtime = %q, want go126", got)
	}
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	match := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)`).FindStringSubmatch(string(b))
	if match == nil {
		t.Fatal("go.mod has no go directive")
	}
	major, _ := strconv.Atoi(match[1])
	minor, _ := strconv.Atoi(match[2])
	if major != 1 || minor > 26 {
		t.Errorf("go.mod says go %s.%s, newer than the go126 runtime the functions deploy on", match[1], match[2])
	}
}

func TestFunctionEnvironmentIsWhatTheCodeReads(t *testing.T) {
	m := loadModule(t)
	env := objectKeys(t, m.local(t, "function_env"))
	for _, f := range functions {
		t.Run(f.entryPoint, func(t *testing.T) {
			var want []string
			for _, n := range f.envNames() {
				if !skipEnv(n) {
					want = append(want, n)
				}
			}
			e, ok := env[f.entryPoint]
			if !ok {
				t.Fatalf("locals.function_env has no %s", f.entryPoint)
			}
			got := keys(objectKeys(t, e))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("environment of %s: Terraform sets (+) what the code does not read, or misses (-) what it reads:\n%s", f.entryPoint, diff)
			}
			for _, n := range got {
				if skipEnv(n) {
					t.Errorf("Terraform sets %s for %s, a local-only variable", n, f.entryPoint)
				}
			}
		})
	}
	if diff := cmp.Diff(keys(objectKeys(t, m.local(t, "functions"))), keys(env)); diff != "" {
		t.Errorf("locals.function_env and locals.functions name different functions:\n%s", diff)
	}
}

func TestTablesMatchTableSpecs(t *testing.T) {
	m := loadModule(t)
	tables := literal(t, m.local(t, "tables"))
	var specNames []string
	for _, spec := range warehouse.TableSpecs {
		specNames = append(specNames, spec.Name)
		if _, err := schemas.Table(spec.Name); err != nil {
			t.Errorf("schemas.Table(%q): %v", spec.Name, err)
		}
		if _, err := os.Stat(filepath.Join("schemas", spec.Name+".json")); err != nil {
			t.Errorf("table %s has no schema file: %v", spec.Name, err)
		}
		if !tables.Type().HasAttribute(spec.Name) {
			continue // reported by the name comparison below
		}
		tb := tables.GetAttr(spec.Name)
		if got := tb.GetAttr("partition_by").AsString(); got != spec.PartitionBy {
			t.Errorf("table %s partitioned by %q in Terraform, %q in TableSpecs", spec.Name, got, spec.PartitionBy)
		}
		if diff := cmp.Diff(spec.ClusterBy, stringList(tb.GetAttr("cluster_by"))); diff != "" {
			t.Errorf("clustering of table %s (-TableSpecs +terraform):\n%s", spec.Name, diff)
		}
	}
	sort.Strings(specNames)
	if diff := cmp.Diff(specNames, valueKeys(tables)); diff != "" {
		t.Errorf("tables of locals.tables (-TableSpecs +terraform):\n%s", diff)
	}
	if diff := cmp.Diff(specNames, keys(objectKeys(t, m.local(t, "table_writers")))); diff != "" {
		t.Errorf("every table needs a writer in locals.table_writers (-TableSpecs +terraform):\n%s", diff)
	}

	tb := m.resource(t, "google_bigquery_table", "table")
	checks := []struct {
		path []string
		want string
	}{
		{[]string{"for_each"}, "local.tables"},
		{[]string{"table_id"}, "each.key"},
		{[]string{"schema"}, `file("${path.module}/schemas/${each.key}.json")`},
		{[]string{"time_partitioning", "type"}, `"DAY"`},
		{[]string{"time_partitioning", "field"}, "each.value.partition_by"},
		{[]string{"clustering"}, "each.value.cluster_by"},
		{[]string{"deletion_protection"}, "var.deletion_protection"},
	}
	for _, c := range checks {
		if got := source(attr(t, tb, c.path...)); got != c.want {
			t.Errorf("google_bigquery_table.table %s = %s, want %s", strings.Join(c.path, "."), got, c.want)
		}
	}
}

// viewRef finds the tables and views a view query reads: `${project}.${dataset}.NAME`.
var viewRef = regexp.MustCompile("`\\$\\{project\\}\\.\\$\\{dataset\\}\\.([A-Za-z0-9_]+)`")

func TestViewsUseTheirQueryFiles(t *testing.T) {
	m := loadModule(t)
	files, err := filepath.Glob("schemas/views/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var fileViews []string
	for _, f := range files {
		fileViews = append(fileViews, strings.TrimSuffix(filepath.Base(f), ".sql"))
	}
	sort.Strings(fileViews)

	base := literal(t, m.local(t, "views"))
	stacked := literal(t, m.local(t, "stacked_views"))
	declared := append(valueKeys(base), valueKeys(stacked)...)
	sort.Strings(declared)
	if diff := cmp.Diff(fileViews, declared); diff != "" {
		t.Errorf("views in locals.views and locals.stacked_views (-schemas/views +terraform):\n%s", diff)
	}

	tables := literal(t, m.local(t, "tables"))
	for _, v := range fileViews {
		sql, err := os.ReadFile(filepath.Join("schemas", "views", v+".sql"))
		if err != nil {
			t.Fatal(err)
		}
		var reads []string
		seen := map[string]bool{}
		for _, match := range viewRef.FindAllStringSubmatch(string(sql), -1) {
			if !seen[match[1]] {
				seen[match[1]] = true
				reads = append(reads, match[1])
			}
		}
		sort.Strings(reads)
		var declaredReads []string
		switch {
		case base.Type().HasAttribute(v):
			declaredReads = stringList(base.GetAttr(v).GetAttr("reads"))
			for _, r := range reads {
				if !tables.Type().HasAttribute(r) {
					t.Errorf("view %s reads %s, which is not a table: declare it in locals.stacked_views", v, r)
				}
			}
		case stacked.Type().HasAttribute(v):
			sv := stacked.GetAttr(v)
			for _, r := range stringList(sv.GetAttr("reads_views")) {
				if !base.Type().HasAttribute(r) {
					t.Errorf("stacked view %s reads view %s, which is not in locals.views (views stack one level)", v, r)
				}
			}
			declaredReads = append(stringList(sv.GetAttr("reads_views")), stringList(sv.GetAttr("reads"))...)
		default:
			continue
		}
		sort.Strings(declaredReads)
		if diff := cmp.Diff(reads, declaredReads); diff != "" {
			t.Errorf("what view %s reads (-%s.sql +terraform):\n%s", v, v, diff)
		}
	}

	for _, name := range []string{"view", "stacked_view"} {
		r := m.resource(t, "google_bigquery_table", name)
		q := source(attr(t, r, "view", "query"))
		if !strings.HasPrefix(q, `templatefile("${path.module}/schemas/views/${each.key}.sql",`) {
			t.Errorf("google_bigquery_table.%s view.query = %s, want templatefile of schemas/views/${each.key}.sql", name, q)
		}
		if got := source(attr(t, r, "view", "use_legacy_sql")); got != "false" {
			t.Errorf("google_bigquery_table.%s view.use_legacy_sql = %s, want false", name, got)
		}
		if got := source(attr(t, r, "table_id")); got != "each.key" {
			t.Errorf("google_bigquery_table.%s table_id = %s, want each.key", name, got)
		}
		if _, ok := r.Body.Attributes["depends_on"]; ok {
			t.Errorf("google_bigquery_table.%s uses depends_on; order views through references", name)
		}
	}
}

func TestNoPublicAccessNoPrimitiveRoles(t *testing.T) {
	names, err := filepath.Glob("*.tf")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"allUsers", "allAuthenticatedUsers", "roles/editor", "roles/owner"}
	// The two exceptions, each on the line that names its member, inside its resource alone:
	// CollectEvents' invoker binding for browser collection (iam.tf) and ServeRankings' for the
	// deck's sign-in (deck.tf), which then requires an Identity Platform ID token itself.
	const publicLine = `member   = "allUsers"`
	publicBlocks := map[string]string{
		"iam.tf":  `resource "google_cloud_run_service_iam_member" "collect_events_public" {`,
		"deck.tf": `resource "google_cloud_run_service_iam_member" "deck_public" {`,
	}
	publicLines := map[string]int{}
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		block := ""
		for line := 1; sc.Scan(); line++ {
			text := sc.Text()
			if strings.HasPrefix(text, "resource ") || strings.HasPrefix(text, "data ") || strings.HasPrefix(text, "locals ") {
				block = text
			}
			if block == publicBlocks[n] && strings.TrimSpace(text) == publicLine {
				publicLines[n]++
				continue
			}
			for _, word := range forbidden {
				if strings.Contains(text, word) {
					t.Errorf("%s:%d mentions %s", n, line, word)
				}
			}
		}
		f.Close()
	}
	for n, c := range publicLines {
		if c > 1 {
			t.Errorf("%s names its public member %d times", n, c)
		}
	}
	want := []struct{ file, name, count, service string }{
		{"iam.tf", "collect_events_public", "var.deploy_functions && var.browser_collection ? 1 : 0", `google_cloudfunctions2_function.function["CollectEvents"].name`},
		{"deck.tf", "deck_public", "var.deploy_functions && var.deck_sign_in ? 1 : 0", `google_cloudfunctions2_function.function["ServeRankings"].name`},
	}
	m := loadModule(t)
	for _, w := range want {
		if publicLines[w.file] != 1 {
			continue
		}
		r := m.resource(t, "google_cloud_run_service_iam_member", w.name)
		if got := source(attr(t, r, "count")); got != w.count {
			t.Errorf("%s count = %s, want %s: public only when its variable is on", w.name, got, w.count)
		}
		if got := source(attr(t, r, "service")); got != w.service {
			t.Errorf("%s service = %s, want %s: that function alone", w.name, got, w.service)
		}
		if got := literal(t, attr(t, r, "role")).AsString(); got != "roles/run.invoker" {
			t.Errorf("%s role = %s, want roles/run.invoker", w.name, got)
		}
	}
}

func TestVariablesAndOutputsAreDocumented(t *testing.T) {
	m := loadModule(t)
	for _, b := range m.blocks("variable") {
		for _, a := range []string{"type", "description"} {
			if _, ok := b.Body.Attributes[a]; !ok {
				t.Errorf("variable %s has no %s", b.Labels[0], a)
			}
		}
	}
	for _, b := range m.blocks("output") {
		if _, ok := b.Body.Attributes["description"]; !ok {
			t.Errorf("output %s has no description", b.Labels[0])
		}
	}
	if len(m.blocks("output")) == 0 {
		t.Error("no outputs")
	}
}

func TestProviderVersionsArePinned(t *testing.T) {
	m := loadModule(t)
	tf := m.blocks("terraform")
	if len(tf) != 1 {
		t.Fatalf("%d terraform blocks, want 1", len(tf))
	}
	if got := literal(t, attr(t, tf[0], "required_version")).AsString(); got != ">= 1.5" {
		t.Errorf("required_version = %q, want >= 1.5", got)
	}
	providers := literal(t, attr(t, tf[0], "required_providers", "google"))
	if got := providers.GetAttr("version").AsString(); got != ">= 6.0, < 8.0" {
		t.Errorf("google provider version = %q, want >= 6.0, < 8.0", got)
	}
	if got := providers.GetAttr("source").AsString(); got != "hashicorp/google" {
		t.Errorf("google provider source = %q", got)
	}
	archive := literal(t, attr(t, tf[0], "required_providers", "archive"))
	if got := archive.GetAttr("source").AsString(); got != "hashicorp/archive" {
		t.Errorf("archive provider source = %q", got)
	}
}

func TestTerraformFmt(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH: install Terraform >= 1.5 to check formatting")
	}
	out, err := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", ".").CombinedOutput()
	if err != nil {
		t.Errorf("terraform fmt -check -recursive: %v\n%s", err, out)
	}
}
