package terraform_test

import (
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// deployCommand is one `gcloud functions deploy` line printed by scripts/deploy.sh --dry-run.
type deployCommand struct {
	name  string
	flags map[string]string
	env   []string // names only, sorted
}

// dryRun runs scripts/deploy.sh --dry-run with args and returns its printed commands, each split
// into words.
func dryRun(t *testing.T, args ...string) [][]string {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"../scripts/deploy.sh", "--dry-run"}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/deploy.sh --dry-run %v: %v\n%s", args, err, out)
	}
	var cmds [][]string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		words, err := shellWords(line)
		if err != nil {
			t.Fatalf("parsing %q: %v", line, err)
		}
		cmds = append(cmds, words)
	}
	return cmds
}

// deploys picks the `gcloud functions deploy` commands out of cmds.
func deploys(t *testing.T, cmds [][]string) []deployCommand {
	t.Helper()
	var out []deployCommand
	for _, w := range cmds {
		if len(w) < 4 || w[0] != "gcloud" || w[1] != "functions" || w[2] != "deploy" {
			continue
		}
		d := deployCommand{name: w[3], flags: map[string]string{}}
		for _, f := range w[4:] {
			k, v, _ := strings.Cut(f, "=")
			d.flags[k] = v
		}
		env := d.flags["--set-env-vars"]
		if rest, ok := strings.CutPrefix(env, "^|^"); ok {
			for _, kv := range strings.Split(rest, "|") {
				k, _, _ := strings.Cut(kv, "=")
				d.env = append(d.env, k)
			}
		} else {
			t.Errorf("deploy %s: --set-env-vars=%q does not use the ^|^ delimiter", d.name, env)
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
	settings := literal(t, m.local(t, "functions"))
	runtime := literal(t, m.local(t, "runtime")).AsString()
	env := objectKeys(t, m.local(t, "function_env"))

	const project = "my-project"
	got := deploys(t, dryRun(t, "--project="+project, "--project-number=123"))
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
			"--set-env-vars":             d.flags["--set-env-vars"], // names compared below
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
		got := deploys(t, dryRun(t, "--project=p", "--only="+only))
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
	for _, args := range [][]string{{}, {"--project=p", "--only=nope"}, {"--project=p", "--bogus"}} {
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
