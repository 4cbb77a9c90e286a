// Package terraform_test checks the Terraform configuration (and scripts/deploy.sh and
// .gcloudignore) against the Go code: the entry points, the environment each function reads, the
// table schemas, partitioning and clustering, the views, IAM hygiene, the order of a first apply,
// and the gcloud path's settings. What only Terraform can evaluate (the plan itself, variable
// validation) is tested by tests/*.tftest.hcl with `terraform test`.
package terraform_test

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// module is the parsed configuration of this directory.
type module struct {
	files map[string]*hcl.File // by file name
}

// loadModule parses every .tf file of this directory.
func loadModule(t *testing.T) *module {
	t.Helper()
	names, err := filepath.Glob("*.tf")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no .tf files in terraform/")
	}
	p := hclparse.NewParser()
	m := &module{files: map[string]*hcl.File{}}
	for _, n := range names {
		f, diags := p.ParseHCLFile(n)
		if diags.HasErrors() {
			t.Fatalf("parsing %s: %s", n, diags.Error())
		}
		m.files[n] = f
	}
	return m
}

// blocks returns the top-level blocks of a type, in file then source order.
func (m *module) blocks(typ string) []*hclsyntax.Block {
	var names []string
	for n := range m.files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*hclsyntax.Block
	for _, n := range names {
		for _, b := range m.files[n].Body.(*hclsyntax.Body).Blocks {
			if b.Type == typ {
				out = append(out, b)
			}
		}
	}
	return out
}

// resource returns the resource block of that type and name.
func (m *module) resource(t *testing.T, typ, name string) *hclsyntax.Block {
	t.Helper()
	for _, b := range m.blocks("resource") {
		if len(b.Labels) == 2 && b.Labels[0] == typ && b.Labels[1] == name {
			return b
		}
	}
	t.Fatalf("no resource %s.%s", typ, name)
	return nil
}

// local returns the expression of a local value. A merge() of object constructors and other
// locals (how rankings.tf adds its functions to functions.tf's) is returned as one object
// constructor holding every item, so that callers read it as if it were written whole.
func (m *module) local(t *testing.T, name string) hclsyntax.Expression {
	t.Helper()
	for _, b := range m.blocks("locals") {
		if a, ok := b.Body.Attributes[name]; ok {
			return m.flattenMerge(t, a.Expr)
		}
	}
	t.Fatalf("no local %s", name)
	return nil
}

func (m *module) flattenMerge(t *testing.T, e hclsyntax.Expression) hclsyntax.Expression {
	t.Helper()
	call, ok := e.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "merge" {
		return e
	}
	out := &hclsyntax.ObjectConsExpr{SrcRange: call.Range(), OpenRange: call.OpenParenRange}
	for _, arg := range call.Args {
		if tr, ok := arg.(*hclsyntax.ScopeTraversalExpr); ok && len(tr.Traversal) == 2 && tr.Traversal.RootName() == "local" {
			arg = m.local(t, tr.Traversal[1].(hcl.TraverseAttr).Name)
		}
		obj, ok := arg.(*hclsyntax.ObjectConsExpr)
		if !ok {
			return e // a merge of something else: leave it to the caller
		}
		out.Items = append(out.Items, obj.Items...)
	}
	return out
}

// literal evaluates an expression that refers to nothing (a local holding only literals).
func literal(t *testing.T, e hclsyntax.Expression) cty.Value {
	t.Helper()
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("evaluating %s: %s", source(e), diags.Error())
	}
	return v
}

// source returns an expression's text as written, whitespace collapsed.
func source(e hclsyntax.Expression) string {
	r := e.Range()
	b, err := os.ReadFile(r.Filename)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return strings.Join(strings.Fields(string(r.SliceBytes(b))), " ")
}

// objectKeys returns the keys of an object constructor ({ A = ..., B = ... }) without evaluating
// its values, which may refer to resources.
func objectKeys(t *testing.T, e hclsyntax.Expression) map[string]hclsyntax.Expression {
	t.Helper()
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatalf("%s is not an object constructor", source(e))
	}
	out := map[string]hclsyntax.Expression{}
	for _, item := range obj.Items {
		k := hcl.ExprAsKeyword(item.KeyExpr)
		if k == "" {
			v, diags := item.KeyExpr.Value(nil)
			if diags.HasErrors() || v.Type() != cty.String {
				t.Fatalf("key %s is not a literal", source(item.KeyExpr))
			}
			k = v.AsString()
		}
		out[k] = item.ValueExpr
	}
	return out
}

// attr returns an attribute of a block body, following nested blocks by type.
func attr(t *testing.T, b *hclsyntax.Block, path ...string) hclsyntax.Expression {
	t.Helper()
	body := b.Body
	for _, blockType := range path[:len(path)-1] {
		var next *hclsyntax.Body
		for _, nb := range body.Blocks {
			if nb.Type == blockType {
				next = nb.Body
				break
			}
		}
		if next == nil {
			t.Fatalf("%s %v has no %s block", b.Type, b.Labels, blockType)
		}
		body = next
	}
	a, ok := body.Attributes[path[len(path)-1]]
	if !ok {
		t.Fatalf("%s %v has no attribute %s", b.Type, b.Labels, strings.Join(path, "."))
	}
	return a.Expr
}

// strings returns a cty list/tuple/set of strings as a Go slice.
func stringList(v cty.Value) []string {
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	return out
}

// keys returns a map's keys, sorted.
func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// valueKeys returns the attribute names of an object or map value, sorted.
func valueKeys(v cty.Value) []string {
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		k, _ := it.Element()
		out = append(out, k.AsString())
	}
	sort.Strings(out)
	return out
}

// functionSettings evaluates locals.functions with every variable at its default but those in
// set, and the literal locals it names (UpdateRankings' concurrency follows
// var.rankings_layout through local.update_rankings_concurrency).
func functionSettings(t *testing.T, m *module, set map[string]cty.Value) cty.Value {
	t.Helper()
	vars := map[string]cty.Value{}
	for _, b := range m.blocks("variable") {
		if a, ok := b.Body.Attributes["default"]; ok {
			vars[b.Labels[0]] = literal(t, a.Expr)
		}
	}
	for k, v := range set {
		vars[k] = v
	}
	e := m.local(t, "functions")
	locals := map[string]cty.Value{}
	for _, tr := range e.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		name := tr[1].(hcl.TraverseAttr).Name
		locals[name] = literal(t, m.local(t, name))
	}
	v, diags := e.Value(&hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars), "local": cty.ObjectVal(locals)}})
	if diags.HasErrors() {
		t.Fatalf("evaluating locals.functions: %s", diags.Error())
	}
	return v
}
