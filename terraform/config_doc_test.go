package terraform_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// configDoc is the page whose table documents every environment variable.
const configDoc = "docs/configuration.md"

// envRow is one row of the configuration table (docs/configuration.md).
type envRow struct {
	names     []string
	functions string // the Functions cell as written
	def       string
	tfVar     string // the Terraform variable the row names, or ""
}

func (r envRow) covers(entryPoint string) bool {
	if strings.HasPrefix(r.functions, "every function") {
		return true
	}
	for _, f := range strings.Split(r.functions, ",") {
		if strings.TrimSpace(f) == entryPoint {
			return true
		}
	}
	return false
}

var backticked = regexp.MustCompile("`([A-Za-z0-9_]+)`")

// docEnvTable reads the table of docs/configuration.md.
func docEnvTable(t *testing.T) map[string]envRow {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(configDoc)))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	rows := map[string]envRow{}
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 5 {
			t.Errorf("configuration row %q has %d cells, want 5", line, len(cells))
			continue
		}
		for k := range cells {
			cells[k] = strings.TrimSpace(cells[k])
		}
		r := envRow{functions: cells[1], def: cells[2]}
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			r.names = append(r.names, m[1])
		}
		if m := backticked.FindStringSubmatch(cells[3]); m != nil && strings.HasPrefix(cells[3], "`") {
			r.tfVar = m[1]
		}
		if r.def == "" || cells[4] == "" {
			t.Errorf("configuration row of %v: the default and what it does must be given", r.names)
		}
		for _, n := range r.names {
			if _, dup := rows[n]; dup {
				t.Errorf("%s has two rows in the configuration table (docs/configuration.md)", n)
			}
			rows[n] = r
		}
	}
	return rows
}

// TestConfigurationDocumentsEveryVariable: every variable each function's LoadConfig reads has a row in
// the configuration table (docs/configuration.md) naming that function (a new function, added to functions,
// fails here until documented); every row names a variable the code reads; and a row's Terraform
// variable is one that sets the variable for each function the row names.
func TestConfigurationDocumentsEveryVariable(t *testing.T) {
	rows := docEnvTable(t)
	m := loadModule(t)
	env := objectKeys(t, m.local(t, "function_env"))
	vars := map[string]bool{}
	for _, b := range m.blocks("variable") {
		vars[b.Labels[0]] = true
	}
	read := map[string]bool{}
	for _, f := range functions {
		for _, n := range f.envNames() {
			read[n] = true
			r, ok := rows[n]
			switch {
			case !ok:
				t.Errorf("%s reads %s, which the configuration table (docs/configuration.md) does not list", f.entryPoint, n)
			case !r.covers(f.entryPoint):
				t.Errorf("the configuration table's row of %s does not name %s (Functions: %s)", n, f.entryPoint, r.functions)
			case r.tfVar != "":
				fenv, ok := env[f.entryPoint]
				if !ok {
					break
				}
				expr, ok := objectKeys(t, fenv)[n]
				if !ok {
					t.Errorf("the configuration table says Terraform variable %s sets %s, but Terraform does not set it for %s", r.tfVar, n, f.entryPoint)
				} else if !m.mentionsVar(expr.Variables(), r.tfVar, 5) {
					t.Errorf("the configuration table says Terraform variable %s sets %s of %s, but %s does not come from it", r.tfVar, n, f.entryPoint, source(expr))
				}
			}
		}
	}
	code := goSourceText(t)
	for n, r := range rows {
		if r.tfVar != "" && !vars[r.tfVar] {
			t.Errorf("the configuration table's row of %s names Terraform variable %s, which variables.tf does not declare", n, r.tfVar)
		}
		if !read[n] && !strings.Contains(code, `"`+n+`"`) {
			t.Errorf("the configuration table documents %s, which no code reads", n)
		}
	}
}

// mentionsVar reports whether the traversals refer to var.name, directly or through the locals
// and resources they name, up to depth references deep.
func (m *module) mentionsVar(trs []hcl.Traversal, name string, depth int) bool {
	if depth == 0 {
		return false
	}
	for _, tr := range trs {
		var attrs []string
		for _, st := range tr[1:] {
			if a, ok := st.(hcl.TraverseAttr); ok {
				attrs = append(attrs, a.Name)
			}
		}
		switch root := tr.RootName(); {
		case root == "var":
			if len(attrs) > 0 && attrs[0] == name {
				return true
			}
		case root == "local":
			for _, b := range m.blocks("locals") {
				if len(attrs) > 0 {
					if a, ok := b.Body.Attributes[attrs[0]]; ok && m.mentionsVar(a.Expr.Variables(), name, depth-1) {
						return true
					}
				}
			}
		default:
			for _, b := range m.blocks("resource") {
				if len(attrs) == 0 || b.Labels[0] != root || b.Labels[1] != attrs[0] {
					continue
				}
				// The exact attribute when the block writes it (retry_config.max_attempts);
				// else, for what the provider computes (id, email), the whole block.
				trs := bodyVariables(b.Body)
				if e := nestedAttr(b.Body, attrs[1:]); e != nil {
					trs = e.Variables()
				}
				if m.mentionsVar(trs, name, depth-1) {
					return true
				}
			}
		}
	}
	return false
}

func bodyVariables(b *hclsyntax.Body) []hcl.Traversal {
	var out []hcl.Traversal
	for _, a := range b.Attributes {
		out = append(out, a.Expr.Variables()...)
	}
	for _, nb := range b.Blocks {
		out = append(out, bodyVariables(nb.Body)...)
	}
	return out
}

// goSourceText is the non-test Go source of functions/ and shared/, where variables outside
// LoadConfig (LOG_LEVEL, the emulator hosts) are read.
func goSourceText(t *testing.T) string {
	t.Helper()
	var sb strings.Builder
	for _, dir := range []string{filepath.Join("..", "functions"), filepath.Join("..", "shared")} {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			b, err := os.ReadFile(p)
			sb.Write(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return sb.String()
}

// nestedAttr finds the attribute at path (nested block types, then the attribute) or nil.
func nestedAttr(b *hclsyntax.Body, path []string) hclsyntax.Expression {
	if len(path) == 0 {
		return nil
	}
	for _, n := range path[:len(path)-1] {
		var next *hclsyntax.Body
		for _, nb := range b.Blocks {
			if nb.Type == n {
				next = nb.Body
			}
		}
		if next == nil {
			return nil
		}
		b = next
	}
	if a, ok := b.Attributes[path[len(path)-1]]; ok {
		return a.Expr
	}
	return nil
}
