package terraform_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// refs returns what a block refers to, directly: resources ("TYPE.NAME"), data sources
// ("data.TYPE.NAME") and locals ("local.NAME"), from its expressions and depends_on.
func refs(body *hclsyntax.Body) map[string]bool {
	out := map[string]bool{}
	var walk func(b *hclsyntax.Body)
	add := func(ts []hcl.Traversal) {
		for _, tr := range ts {
			parts := []string{tr.RootName()}
			for _, step := range tr[1:] {
				if a, ok := step.(hcl.TraverseAttr); ok {
					parts = append(parts, a.Name)
				} else {
					break
				}
			}
			switch {
			case parts[0] == "data" && len(parts) >= 3:
				out[strings.Join(parts[:3], ".")] = true
			case parts[0] == "local" && len(parts) >= 2:
				out["local."+parts[1]] = true
			case strings.Contains(parts[0], "_") && len(parts) >= 2:
				out[parts[0]+"."+parts[1]] = true
			}
		}
	}
	walk = func(b *hclsyntax.Body) {
		for _, a := range b.Attributes {
			add(a.Expr.Variables())
			if a.Name == "depends_on" {
				// depends_on = [x.y] lists traversals, which Variables also returns.
				continue
			}
		}
		for _, nb := range b.Blocks {
			walk(nb.Body)
		}
	}
	walk(body)
	return out
}

// graph is the configuration's reference graph: every resource, data source and local, with what
// it refers to.
func graph(t *testing.T, m *module) map[string]map[string]bool {
	t.Helper()
	g := map[string]map[string]bool{}
	for _, b := range m.blocks("resource") {
		g[b.Labels[0]+"."+b.Labels[1]] = refs(b.Body)
	}
	for _, b := range m.blocks("data") {
		g["data."+b.Labels[0]+"."+b.Labels[1]] = refs(b.Body)
	}
	for _, b := range m.blocks("locals") {
		for name, a := range b.Body.Attributes {
			g["local."+name] = refs(&hclsyntax.Body{Attributes: hclsyntax.Attributes{name: a}})
		}
	}
	return g
}

// reaches reports whether from refers to to, directly or through others.
func reaches(g map[string]map[string]bool, from, to string) bool {
	seen := map[string]bool{}
	var visit func(n string) bool
	visit = func(n string) bool {
		if seen[n] {
			return false
		}
		seen[n] = true
		for r := range g[n] {
			if r == to || visit(r) {
				return true
			}
		}
		return false
	}
	return visit(from)
}

// TestEveryGoogleResourceWaitsForTheAPIs: on a fresh project every API call races the enabling of
// its API unless the resource comes after google_project_service.api, by a reference or by
// depends_on, directly or through what it refers to.
func TestEveryGoogleResourceWaitsForTheAPIs(t *testing.T) {
	m := loadModule(t)
	g := graph(t, m)
	for _, b := range m.blocks("resource") {
		n := b.Labels[0] + "." + b.Labels[1]
		if !strings.HasPrefix(b.Labels[0], "google_") || n == "google_project_service.api" {
			continue
		}
		if !reaches(g, n, "google_project_service.api") {
			t.Errorf("%s does not come after google_project_service.api: on a fresh project it races the enabling of its API", n)
		}
	}
}

// TestOrderingOfFirstApply: what nothing in a resource's arguments would order, but a first
// apply needs.
func TestOrderingOfFirstApply(t *testing.T) {
	m := loadModule(t)
	g := graph(t, m)
	for _, c := range []struct{ from, to, why string }{
		{"google_cloudfunctions2_function.function", "terraform_data.build_grant_propagation", "the first build fails until the build account's grant has propagated"},
		{"google_cloudfunctions2_function.function", "google_project_iam_member.build", "the build needs its role"},
		{"google_pubsub_subscription.loader", "google_service_account_iam_member.pubsub_token_creator", "pushes need the agent's token grant"},
		{"google_pubsub_subscription.loader", "google_cloudfunctions2_function.function", "pushes need the function"},
	} {
		if !reaches(g, c.from, c.to) {
			t.Errorf("%s does not come after %s: %s", c.from, c.to, c.why)
		}
	}
	// The Pub/Sub service agent exists once Pub/Sub has served the project: every grant to it
	// comes after a Pub/Sub resource.
	for _, b := range m.blocks("resource") {
		n := b.Labels[0] + "." + b.Labels[1]
		if !g[n]["local.pubsub_service_agent"] {
			continue
		}
		ok := false
		for _, p := range []string{"google_pubsub_topic.events", "google_pubsub_topic.dead_letter", "google_pubsub_subscription.loader"} {
			ok = ok || reaches(g, n, p)
		}
		if !ok {
			t.Errorf("%s grants to the Pub/Sub service agent before any Pub/Sub resource exists: the agent may not exist yet", n)
		}
	}
}

// TestSecretsHaveNoValues: secret values never pass through Terraform state.
func TestSecretsHaveNoValues(t *testing.T) {
	m := loadModule(t)
	for _, b := range append(m.blocks("resource"), m.blocks("data")...) {
		if b.Labels[0] == "google_secret_manager_secret_version" {
			t.Errorf("%s %s.%s puts a secret value in Terraform state; add values with gcloud secrets versions add", b.Type, b.Labels[0], b.Labels[1])
		}
	}
}

// TestEveryValidationIsTested: every variable but a bool has a validation rule, and each rule is
// refused with a bad value in tests/variables.tftest.hcl (expect_failures names it) and given a
// good one there.
func TestEveryValidationIsTested(t *testing.T) {
	m := loadModule(t)
	b, err := os.ReadFile("tests/variables.tftest.hcl")
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(b, "tests/variables.tftest.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	refused := map[string]bool{}
	given := map[string]bool{}
	for _, run := range f.Body.(*hclsyntax.Body).Blocks {
		if run.Type != "run" {
			continue
		}
		if a, ok := run.Body.Attributes["expect_failures"]; ok {
			for _, tr := range a.Expr.Variables() {
				if tr.RootName() == "var" {
					refused[tr[1].(hcl.TraverseAttr).Name] = true
				}
			}
			continue
		}
		for _, vb := range run.Body.Blocks {
			if vb.Type == "variables" {
				for name := range vb.Body.Attributes {
					given[name] = true
				}
			}
		}
	}
	var validated []string
	for _, v := range m.blocks("variable") {
		has := false
		for _, nb := range v.Body.Blocks {
			if nb.Type == "validation" {
				validated = append(validated, v.Labels[0])
				has = true
				break
			}
		}
		// Every variable is validated, but a bool: its type is its whole rule.
		if a, ok := v.Body.Attributes["type"]; !has && (!ok || source(a.Expr) != "bool") {
			t.Errorf("variable %s has no validation rule", v.Labels[0])
		}
	}
	sort.Strings(validated)
	for _, v := range validated {
		if !refused[v] {
			t.Errorf("variable %s has a validation rule, but no run of tests/variables.tftest.hcl expects it to refuse a bad value", v)
		}
		if !given[v] {
			t.Errorf("variable %s has a validation rule, but no run of tests/variables.tftest.hcl gives it a good value", v)
		}
	}
	if len(validated) < 30 {
		t.Errorf("only %d validated variables found", len(validated))
	}
}

// TestPushEndpointNamesTheTopic: the loader reads the topic from /projects/P/topics/T.
func TestPushEndpointNamesTheTopic(t *testing.T) {
	m := loadModule(t)
	sub := m.resource(t, "google_pubsub_subscription", "loader")
	got := source(attr(t, sub, "push_config", "push_endpoint"))
	if !regexp.MustCompile(`/projects/\$\{var\.project_id\}/topics/\$\{google_pubsub_topic\.events\.name\}"$`).MatchString(got) {
		t.Errorf("loader push_endpoint = %s, want it to end in /projects/${var.project_id}/topics/${google_pubsub_topic.events.name}", got)
	}
}

// TestDeployDocsSayWhatAFreshProjectNeeds: data.google_project is read at plan time, before
// apis.tf has enabled anything, so the deploy instructions (terraform/README.md and
// docs/deploying.md) must enable Cloud Resource Manager first.
func TestDeployDocsSayWhatAFreshProjectNeeds(t *testing.T) {
	m := loadModule(t)
	for _, b := range m.blocks("data") {
		if b.Labels[0] != "google_project" {
			continue
		}
		if _, deferred := b.Body.Attributes["depends_on"]; deferred {
			return // read after the APIs are enabled: nothing is needed first
		}
	}
	for _, name := range []string{"README.md", "../docs/deploying.md"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "gcloud services enable cloudresourcemanager.googleapis.com") {
			t.Errorf("%s does not say to enable cloudresourcemanager.googleapis.com before the first plan (data.google_project needs it)", name)
		}
	}
}
