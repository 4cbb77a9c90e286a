package terraform_test

import (
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// deployCommand is one `gcloud functions deploy` line printed by scripts/deploy.sh --dry-run.
type deployCommand struct {
	name   string
	flags  map[string]string
	env    []string // names, in order
	values []string // their values as printed (YAML double-quoted)
}

// dryCommand is one command printed by scripts/deploy.sh --dry-run: its words, and for a
// function's deploy the environment printed after it.
type dryCommand struct {
	words []string
	env   []string // KEY: "value" lines
}

// dryRun runs scripts/deploy.sh --dry-run with args and returns its printed commands, each split
// into words: a command's first line holds its words up to the first flag, then one flag a line
// (each line but the last ending in " \"), and "#   KEY: value" lines after a deploy are its
// environment.
func dryRun(t *testing.T, args ...string) [][]string {
	t.Helper()
	var out [][]string
	for _, c := range dryRunCommands(t, args...) {
		out = append(out, c.words)
	}
	return out
}

func dryRunCommands(t *testing.T, args ...string) []dryCommand {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"../scripts/deploy.sh", "--dry-run"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/deploy.sh --dry-run %v: %v\n%s", args, err, out)
	}
	var cmds []dryCommand
	var line strings.Builder
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "#   "):
			if len(cmds) == 0 {
				t.Fatalf("environment line %q before any command", l)
			}
			cmds[len(cmds)-1].env = append(cmds[len(cmds)-1].env, strings.TrimPrefix(l, "#   "))
			continue
		case strings.HasPrefix(l, "#"):
			continue
		case strings.HasPrefix(l, "  ") != (line.Len() > 0):
			t.Fatalf("deploy.sh --dry-run line %q: a flag line must follow a line ending in \\, and only then", l)
		}
		cont := strings.HasSuffix(l, " \\")
		line.WriteString(strings.TrimSpace(strings.TrimSuffix(l, " \\")) + " ")
		if cont {
			continue
		}
		words, err := shellWords(strings.TrimSpace(line.String()))
		if err != nil {
			t.Fatalf("parsing %q: %v", line.String(), err)
		}
		cmds = append(cmds, dryCommand{words: words})
		line.Reset()
	}
	return cmds
}

// deploys picks the `gcloud functions deploy` commands out of cmds.
func deploys(t *testing.T, cmds []dryCommand) []deployCommand {
	t.Helper()
	var out []deployCommand
	for _, c := range cmds {
		w := c.words
		if len(w) < 4 || w[0] != "gcloud" || w[1] != "functions" || w[2] != "deploy" {
			continue
		}
		d := deployCommand{name: w[3], flags: map[string]string{}}
		for _, f := range w[4:] {
			k, v, _ := strings.Cut(f, "=")
			d.flags[k] = v
		}
		if d.flags["--env-vars-file"] == "" {
			t.Errorf("deploy %s: no --env-vars-file", d.name)
		}
		for _, kv := range c.env {
			k, v, ok := strings.Cut(kv, ": ")
			if !ok || !strings.HasPrefix(v, `"`) || !strings.HasSuffix(v, `"`) {
				t.Errorf("deploy %s: environment line %q is not KEY: \"value\"", d.name, kv)
			}
			d.env = append(d.env, k)
			d.values = append(d.values, v)
		}
		out = append(out, d)
	}
	return out
}

// shellWords splits a line printed with bash's printf %q: words separated by spaces, with
// backslash escapes and single or double quotes.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote at %d", i)
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// ingressFlag is gcloud's spelling of each ingress setting.
var ingressFlag = map[string]string{
	"ALLOW_ALL":               "all",
	"ALLOW_INTERNAL_ONLY":     "internal-only",
	"ALLOW_INTERNAL_AND_GCLB": "internal-and-gclb",
}

func TestDeployScriptMatchesTerraform(t *testing.T) {
	m := loadModule(t)
	settings := functionSettings(t, m, nil)
	runtime := literal(t, m.local(t, "runtime")).AsString()
	env := objectKeys(t, m.local(t, "function_env"))

	const project = "my-project"
	got := deploys(t, dryRunCommands(t, "--project="+project, "--project-number=123"))
	if len(got) != len(valueKeys(settings)) {
		t.Errorf("deploy.sh deploys %d functions, Terraform %d", len(got), len(valueKeys(settings)))
	}
	seen := map[string]bool{}
	for _, d := range got {
		ep := d.flags["--entry-point"]
		if seen[ep] {
			t.Errorf("deploy.sh deploys %s twice", ep)
		}
		seen[ep] = true
		if !settings.Type().HasAttribute(ep) {
			t.Errorf("deploy.sh deploys entry point %q, which Terraform does not", ep)
			continue
		}
		s := settings.GetAttr(ep)
		timeout, _ := s.GetAttr("timeout_seconds").AsBigFloat().Int64()
		concurrency, _ := s.GetAttr("concurrency").AsBigFloat().Int64()
		maxInstances, _ := s.GetAttr("max_instances").AsBigFloat().Int64()
		want := map[string]string{
			"--gen2":                     "",
			"--project":                  project,
			"--region":                   "us-central1",
			"--runtime":                  runtime,
			"--entry-point":              ep,
			"--source":                   ".",
			"--trigger-http":             "",
			"--no-allow-unauthenticated": "",
			"--service-account":          s.GetAttr("service_account").AsString() + "@" + project + ".iam.gserviceaccount.com",
			"--build-service-account":    "projects/" + project + "/serviceAccounts/functions-build@" + project + ".iam.gserviceaccount.com",
			"--memory":                   s.GetAttr("memory").AsString(),
			"--cpu":                      s.GetAttr("cpu").AsString(),
			"--timeout":                  fmt.Sprintf("%ds", timeout),
			"--concurrency":              fmt.Sprint(concurrency),
			"--max-instances":            fmt.Sprint(maxInstances),
			"--ingress-settings":         ingressFlag[s.GetAttr("ingress").AsString()],
			"--env-vars-file":            d.flags["--env-vars-file"], // its lines are compared below
		}
		if d.name != s.GetAttr("name").AsString() {
			t.Errorf("deploy.sh names %s %q, Terraform %q", ep, d.name, s.GetAttr("name").AsString())
		}
		if diff := cmp.Diff(want, d.flags); diff != "" {
			t.Errorf("gcloud functions deploy %s flags (-terraform +deploy.sh):\n%s", d.name, diff)
		}
		sorted := append([]string(nil), d.env...)
		sort.Strings(sorted)
		if e, ok := env[ep]; ok {
			if diff := cmp.Diff(keys(objectKeys(t, e)), sorted); diff != "" {
				t.Errorf("environment names of %s (-terraform +deploy.sh):\n%s", ep, diff)
			}
		}
	}
	// The build service account's id is Terraform's too.
	build := m.resource(t, "google_service_account", "build")
	if got := literal(t, attr(t, build, "account_id")).AsString(); got != "functions-build" {
		t.Errorf("google_service_account.build account_id = %q, deploy.sh uses functions-build", got)
	}
}

func TestDeployScriptOnly(t *testing.T) {
	for _, only := range []string{"load-events", "LoadEvents"} {
		got := deploys(t, dryRunCommands(t, "--project=p", "--only="+only))
		if len(got) != 1 || got[0].name != "load-events" {
			var names []string
			for _, d := range got {
				names = append(names, d.name)
			}
			t.Errorf("deploy.sh --only=%s deploys %v, want [load-events]", only, names)
		}
	}
	// The loader's subscription comes with LoadEvents, with its dead-letter policy.
	var sub []string
	for _, w := range dryRun(t, "--project=p", "--only=load-events") {
		if len(w) > 3 && w[1] == "pubsub" && w[2] == "subscriptions" && w[3] == "create" {
			sub = w
		}
	}
	for _, flag := range []string{"--push-endpoint=", "--push-auth-service-account=pubsub-push@p.iam.gserviceaccount.com", "--dead-letter-topic=events-dead-letter", "--max-delivery-attempts="} {
		if !containsPrefix(sub, flag) {
			t.Errorf("loader subscription command %v has no %s", sub, flag)
		}
	}
}

func TestDeployScriptRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{{}, {"--project=p", "--only=nope"}, {"--project=p", "--bogus"}, {"--project=p", "--collect-events-invoker=allUsers"}, {"--project=p", "--backfill-invoker", "allAuthenticatedUsers"}, {"--project=p", "--rankings-invoker=allUsers"}} {
		cmd := exec.Command("bash", append([]string{"../scripts/deploy.sh", "--dry-run"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("deploy.sh --dry-run %v succeeded, want an error; output:\n%s", args, out)
		}
	}
}

func containsPrefix(words []string, prefix string) bool {
	for _, w := range words {
		if strings.HasPrefix(w, prefix) {
			return true
		}
	}
	return false
}

// invokerBindings returns "function-name member" for every add-invoker-policy-binding printed.
func invokerBindings(cmds [][]string) []string {
	var out []string
	for _, w := range cmds {
		if len(w) > 4 && w[1] == "functions" && w[2] == "add-invoker-policy-binding" {
			for _, f := range w[4:] {
				if m, ok := strings.CutPrefix(f, "--member="); ok {
					out = append(out, w[3]+" "+m)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestDeployScriptInvokersMatchTerraform: deploy.sh grants run.invoker to exactly the members
// Terraform's locals.invokers does: its callers' service accounts, and the principals of
// collect_events_invokers, backfill_invokers and rankings_invokers (without which apps and
// people get 403).
func TestDeployScriptInvokersMatchTerraform(t *testing.T) {
	m := loadModule(t)
	const project = "p"
	settings := functionSettings(t, m, nil)
	lists := map[string][]string{
		"collect_events_invokers": {"serviceAccount:app@p.iam.gserviceaccount.com", "group:apps@example.com"},
		"backfill_invokers":       {"user:me@example.com"},
		"rankings_invokers":       {"group:analysts@example.com", "user:me@example.com"},
	}
	call, ok := m.local(t, "invokers").(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "merge" {
		t.Fatalf("locals.invokers = %s, want merge(...)", source(m.local(t, "invokers")))
	}
	var want []string
	add := func(fn hclsyntax.Expression, member string) {
		ep := literal(t, fn).AsString()
		want = append(want, settings.GetAttr(ep).GetAttr("name").AsString()+" "+member)
	}
	// rankings.tf's bindings (google_cloud_run_service_iam_member.rankings_invoker) are granted
	// by deploy.sh too.
	ranking, ok := m.local(t, "ranking_invokers").(*hclsyntax.FunctionCallExpr)
	if !ok || ranking.Name != "merge" {
		t.Fatalf("locals.ranking_invokers = %s, want merge(...)", source(m.local(t, "ranking_invokers")))
	}
	for _, arg := range append(append([]hclsyntax.Expression(nil), call.Args...), ranking.Args...) {
		switch e := arg.(type) {
		case *hclsyntax.ObjectConsExpr: // { "F/x" = { function = "F", member = google_service_account.X.member } }
			for _, item := range e.Items {
				v := objectKeys(t, item.ValueExpr)
				ref := strings.TrimSuffix(source(v["member"]), ".member")
				// A function's own account: google_service_account.function["F"] is local.functions' F.service_account.
				if fn, ok := strings.CutPrefix(ref, `google_service_account.function["`); ok {
					id := settings.GetAttr(strings.TrimSuffix(fn, `"]`)).GetAttr("service_account").AsString()
					add(v["function"], "serviceAccount:"+id+"@"+project+".iam.gserviceaccount.com")
					continue
				}
				sa := m.resource(t, "google_service_account", strings.TrimPrefix(ref, "google_service_account."))
				add(v["function"], "serviceAccount:"+literal(t, attr(t, sa, "account_id")).AsString()+"@"+project+".iam.gserviceaccount.com")
			}
		case *hclsyntax.ForExpr: // { for m in var.LIST : "F/${m}" => { function = "F", member = m } }
			list := strings.TrimPrefix(source(e.CollExpr), "var.")
			members, ok := lists[list]
			if !ok {
				t.Fatalf("locals.invokers iterates over %s, which this test does not know", source(e.CollExpr))
			}
			for _, mem := range members {
				add(objectKeys(t, e.ValExpr)["function"], mem)
			}
		default:
			t.Fatalf("locals.invokers argument %s is neither an object nor a for expression", source(arg))
		}
	}
	sort.Strings(want)
	args := []string{"--project=" + project, "--project-number=1"}
	for _, mem := range lists["collect_events_invokers"] {
		args = append(args, "--collect-events-invoker="+mem)
	}
	for _, mem := range lists["backfill_invokers"] {
		args = append(args, "--backfill-invoker", mem)
	}
	for _, mem := range lists["rankings_invokers"] {
		args = append(args, "--rankings-invoker="+mem)
	}
	if diff := cmp.Diff(want, invokerBindings(dryRun(t, args...))); diff != "" {
		t.Errorf("invoker bindings (-terraform +deploy.sh):\n%s", diff)
	}
	// The same lists from the environment, comma-separated as the usage says.
	cmd := exec.Command("bash", "../scripts/deploy.sh", "--dry-run", "--project="+project, "--project-number=1")
	cmd.Env = append(cmd.Environ(), "COLLECT_EVENTS_INVOKERS="+strings.Join(lists["collect_events_invokers"], ","), "BACKFILL_INVOKERS="+strings.Join(lists["backfill_invokers"], ","), "RANKINGS_INVOKERS="+strings.Join(lists["rankings_invokers"], ","))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("deploy.sh with *_INVOKERS: %v", err)
	}
	var fromEnv []string
	for _, l := range strings.Split(string(out), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSuffix(strings.TrimSpace(l), " \\"), "--member="); ok && !strings.Contains(m, "gcp-sa-pubsub") {
			fromEnv = append(fromEnv, m)
		}
	}
	if len(fromEnv) != len(want) {
		t.Errorf("deploy.sh with the *_INVOKERS variables grants %d members, want %d: %v", len(fromEnv), len(want), fromEnv)
	}
}

// TestDeployScriptHelpListsTerraformDefaults: every environment variable deploy.sh lets a caller
// override is listed by --help with a default, and where the function's environment takes it
// from a Terraform variable, the default is that variable's.
func TestDeployScriptHelpListsTerraformDefaults(t *testing.T) {
	out, err := exec.Command("bash", "../scripts/deploy.sh", "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	inList := false
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Environment variables") {
			inList = true
			continue
		}
		if f := strings.Fields(l); inList && len(f) > 0 && strings.ToUpper(f[0]) == f[0] && strings.HasPrefix(l, "  ") {
			listed[f[0]] = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), f[0]))
		}
	}
	m := loadModule(t)
	defaults := map[string]hclsyntax.Expression{}
	for _, b := range m.blocks("variable") {
		if a, ok := b.Body.Attributes["default"]; ok {
			defaults[b.Labels[0]] = a.Expr
		}
	}
	fromVar := regexp.MustCompile(`^(?:tostring\(|join\(",", )?var\.([a-z_]+)\)?$`)
	checked := 0
	for ep, e := range objectKeys(t, m.local(t, "function_env")) {
		for name, expr := range objectKeys(t, e) {
			match := fromVar.FindStringSubmatch(source(expr))
			if match == nil {
				continue // a name or URL the script derives, not a setting
			}
			def, ok := defaults[match[1]]
			if !ok {
				continue
			}
			got, ok := listed[name]
			if !ok {
				t.Errorf("%s of %s (var.%s) is not listed by deploy.sh --help", name, ep, match[1])
				continue
			}
			v := literal(t, def)
			want := ""
			switch {
			case v.Type() == cty.String:
				want = v.AsString()
			case v.Type() == cty.Number:
				want = v.AsBigFloat().Text('f', -1)
			default:
				want = strings.Join(stringList(v), ",")
			}
			if got != want {
				t.Errorf("deploy.sh --help: %s default %q, Terraform's var.%s %q", name, got, match[1], want)
			}
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("only %d defaults compared; the function_env expressions changed shape?", checked)
	}
}

// TestDeployScriptBrowserCollection: --browser-collection adds exactly one binding, the public
// invoker of CollectEvents (Terraform's collect_events_public), and makes CollectEvents require
// a write key; without it nothing is public and no key is required.
func TestDeployScriptBrowserCollection(t *testing.T) {
	base := []string{"--project=p", "--project-number=1"}
	without := invokerBindings(dryRun(t, base...))
	with := invokerBindings(dryRun(t, append(base, "--browser-collection")...))
	var added []string
	for _, b := range with {
		if !slices.Contains(without, b) {
			added = append(added, b)
		}
	}
	if diff := cmp.Diff([]string{"collect-events allUsers"}, added); diff != "" {
		t.Errorf("bindings --browser-collection adds (-want +got):\n%s", diff)
	}
	for _, b := range without {
		if strings.HasSuffix(b, " allUsers") || strings.HasSuffix(b, " allAuthenticatedUsers") {
			t.Errorf("without --browser-collection: public binding %s", b)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{{base, "REQUIRE_WRITE_KEY: \"false\""}, {append(base, "--browser-collection"), "REQUIRE_WRITE_KEY: \"true\""}} {
		out, err := exec.Command("bash", append([]string{"../scripts/deploy.sh", "--dry-run", "--only=collect-events"}, tc.args...)...).Output()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("deploy.sh %v: CollectEvents' environment lacks %s", tc.args, tc.want)
		}
	}
}
