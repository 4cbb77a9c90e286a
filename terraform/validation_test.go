package terraform_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
	ctyfunc "github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// TestValidationMessages: `terraform test` checks that each bad value of tests/variables.tftest.hcl
// is refused by its variable's rule, but not what the user reads. This hands the same bad values to
// Terraform (terraform console, which evaluates every variable) and checks each refusal carries
// its rule's error_message.
func TestValidationMessages(t *testing.T) {
	tf := terraformWithProviders(t)
	m := loadModule(t)
	messages := map[string]string{}
	for _, v := range m.blocks("variable") {
		for _, nb := range v.Body.Blocks {
			if nb.Type == "validation" {
				messages[v.Labels[0]] = literal(t, nb.Body.Attributes["error_message"].Expr).AsString()
			}
		}
	}

	// A copy of the configuration, so its own .terraform is left alone.
	root := t.TempDir()
	dir := filepath.Join(root, "terraform")
	copyTree(t, ".", dir, map[string]bool{".terraform": true, "tests": true})
	ignore, err := os.ReadFile("../.gcloudignore") // functions.tf reads it
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, ".gcloudignore"), string(ignore))
	init := exec.Command(tf, "init", "-backend=false", "-input=false")
	init.Dir = dir
	if out, err := init.CombinedOutput(); err != nil {
		t.Fatalf("terraform init: %v\n%s", err, out)
	}

	src, err := os.ReadFile("tests/variables.tftest.hcl")
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, "tests/variables.tftest.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx := &hcl.EvalContext{Functions: map[string]ctyfunc.Function{"format": stdlib.FormatFunc, "replace": stdlib.ReplaceFunc}}
	ansi := regexp.MustCompile(`\x1b\[[0-9;]*m`)
	subject := regexp.MustCompile(`var\.([a-z0-9_]+) is`)
	runs := 0
	for _, run := range f.Body.(*hclsyntax.Body).Blocks {
		if run.Type != "run" || !strings.HasSuffix(run.Labels[0], "_refused") {
			continue
		}
		refused := map[string]bool{}
		if a, ok := run.Body.Attributes["expect_failures"]; ok {
			for _, tr := range a.Expr.Variables() {
				if tr.RootName() == "var" {
					refused[tr[1].(hcl.TraverseAttr).Name] = true
				}
			}
		}
		var vars *hclsyntax.Body
		for _, b := range run.Body.Blocks {
			if b.Type == "variables" {
				vars = b.Body
			}
		}
		if vars == nil || len(refused) == 0 {
			continue
		}
		runs++
		t.Run(run.Labels[0], func(t *testing.T) {
			tfvars := hclwrite.NewEmptyFile()
			tfvars.Body().SetAttributeValue("project_id", cty.StringVal("pk-test-project"))
			var names []string
			for name, a := range vars.Attributes {
				v, diags := a.Expr.Value(ctx)
				if diags.HasErrors() {
					t.Fatalf("evaluating %s: %s", name, diags.Error())
				}
				tfvars.Body().SetAttributeValue(name, v)
				names = append(names, name)
			}
			file := filepath.Join(dir, "bad.tfvars")
			if err := os.WriteFile(file, tfvars.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tf, "console", "-var-file="+file)
			cmd.Dir = dir
			cmd.Stdin = strings.NewReader("1\n")
			cmd.Env = append(os.Environ(), "NO_COLOR=1")
			out, _ := cmd.CombinedOutput() // fails, with the refusals
			got := map[string]string{}
			for _, d := range strings.Split(ansi.ReplaceAllString(string(out), ""), "╷") {
				if match := subject.FindStringSubmatch(d); match != nil && strings.Contains(d, "Invalid value for variable") {
					got[match[1]] += strings.Join(strings.FieldsFunc(d, func(r rune) bool { return r == ' ' || r == '\n' || r == '│' }), " ")
				}
			}
			for _, name := range names {
				want, ok := messages[name]
				if !refused[name] || !ok {
					continue
				}
				if !strings.Contains(got[name], strings.Join(strings.Fields(want), " ")) {
					t.Errorf("%s: Terraform's refusal does not carry %q; it said:\n%s", name, want, got[name])
				}
			}
		})
	}
	if runs < 2 {
		t.Errorf("found %d refusing runs in tests/variables.tftest.hcl", runs)
	}
}
