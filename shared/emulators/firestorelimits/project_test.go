package firestorelimits

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// terraformDir is the project's Terraform, from this package's directory.
const terraformDir = "../../../terraform"

// ProjectConfig is what the Terraform declares: every google_firestore_field with an
// index_config is an exemption, every google_firestore_index a composite index, with for_each,
// locals and variable defaults evaluated.
func TestProjectConfigIsTerraforms(t *testing.T) {
	blocks := terraformBlocks(t)
	ctx := terraformContext(t, blocks)
	var got Config
	for _, b := range blocks {
		if b.Type != "resource" || len(b.Labels) != 2 {
			continue
		}
		switch b.Labels[0] {
		case "google_firestore_field":
			forEach(t, ctx, b, func(ctx *hcl.EvalContext) {
				cfg := childBlock(b.Body, "index_config")
				if cfg == nil {
					return // a TTL policy alone keeps the field's indexes
				}
				e := Exemption{CollectionGroup: evalString(t, ctx, b.Body, "collection"), FieldPath: evalString(t, ctx, b.Body, "field")}
				for _, ix := range cfg.Blocks {
					if ix.Type == "indexes" {
						e.Keep = append(e.Keep, indexMode(t, ctx, ix.Body))
					}
				}
				got.Exemptions = append(got.Exemptions, e)
			})
		case "google_firestore_index":
			ci := CompositeIndex{CollectionGroup: evalString(t, ctx, b.Body, "collection")}
			if _, ok := b.Body.Attributes["query_scope"]; ok {
				ci.CollectionGroupScope = evalString(t, ctx, b.Body, "query_scope") == "COLLECTION_GROUP"
			}
			for _, f := range b.Body.Blocks {
				if f.Type == "fields" {
					ci.Fields = append(ci.Fields, IndexField{FieldPath: evalString(t, ctx, f.Body, "field_path"), Mode: indexMode(t, ctx, f.Body)})
				}
			}
			got.CompositeIndexes = append(got.CompositeIndexes, ci)
		}
	}
	byName := cmpopts.SortSlices(func(a, b Exemption) bool {
		return a.CollectionGroup+"/"+a.FieldPath < b.CollectionGroup+"/"+b.FieldPath
	})
	byFields := cmpopts.SortSlices(func(a, b CompositeIndex) bool {
		return a.CollectionGroup+a.Fields[0].FieldPath < b.CollectionGroup+b.Fields[0].FieldPath
	})
	if diff := cmp.Diff(ProjectConfig(), got, byName, byFields, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ProjectConfig() (-Go +Terraform):\n%s", diff)
	}
	if _, err := New(ProjectConfig()); err != nil {
		t.Errorf("New(ProjectConfig()) = %v", err)
	}
}

// terraformBlocks returns the top-level blocks of every .tf file.
func terraformBlocks(t *testing.T) []*hclsyntax.Block {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(terraformDir, "*.tf"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no .tf files in %s (%v)", terraformDir, err)
	}
	p := hclparse.NewParser()
	var out []*hclsyntax.Block
	for _, n := range names {
		f, diags := p.ParseHCLFile(n)
		if diags.HasErrors() {
			t.Fatalf("parsing %s: %s", n, diags.Error())
		}
		out = append(out, f.Body.(*hclsyntax.Body).Blocks...)
	}
	return out
}

// terraformContext holds var (each variable's default) and local (each local that evaluates from
// variables and literals alone; the others refer to resources and are left out).
func terraformContext(t *testing.T, blocks []*hclsyntax.Block) *hcl.EvalContext {
	t.Helper()
	vars := map[string]cty.Value{}
	for _, b := range blocks {
		if b.Type != "variable" || len(b.Labels) != 1 {
			continue
		}
		if a, ok := b.Body.Attributes["default"]; ok {
			if v, diags := a.Expr.Value(nil); !diags.HasErrors() {
				vars[b.Labels[0]] = v
			}
		}
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)},
		Functions: map[string]function.Function{"toset": toset, "merge": stdlib.MergeFunc},
	}
	locals := map[string]cty.Value{}
	for _, b := range blocks {
		if b.Type != "locals" {
			continue
		}
		for name, a := range b.Body.Attributes {
			if v, diags := a.Expr.Value(ctx); !diags.HasErrors() {
				locals[name] = v
			}
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(locals)
	return ctx
}

// toset is Terraform's toset for a list of strings.
var toset = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.String)}},
	Type:   function.StaticReturnType(cty.Set(cty.String)),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if args[0].LengthInt() == 0 {
			return cty.SetValEmpty(cty.String), nil
		}
		return cty.SetVal(args[0].AsValueSlice()), nil
	},
})

// forEach calls f once per instance of a resource: once without for_each, else once per element
// with each.key and each.value set.
func forEach(t *testing.T, ctx *hcl.EvalContext, b *hclsyntax.Block, f func(*hcl.EvalContext)) {
	t.Helper()
	a, ok := b.Body.Attributes["for_each"]
	if !ok {
		f(ctx)
		return
	}
	coll, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		t.Fatalf("%s.%s for_each: %s", b.Labels[0], b.Labels[1], diags.Error())
	}
	for it := coll.ElementIterator(); it.Next(); {
		k, v := it.Element()
		if coll.Type().IsSetType() {
			k = v
		}
		inner := ctx.NewChild()
		inner.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
		f(inner)
	}
}

func evalString(t *testing.T, ctx *hcl.EvalContext, body *hclsyntax.Body, name string) string {
	t.Helper()
	a, ok := body.Attributes[name]
	if !ok {
		t.Fatalf("no attribute %s at %s", name, body.SrcRange)
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() || v.Type() != cty.String {
		t.Fatalf("%s at %s: %s, want a string", name, a.SrcRange, diags.Error())
	}
	return v.AsString()
}

// indexMode reads an index's order = "ASCENDING" | "DESCENDING" or array_config = "CONTAINS".
func indexMode(t *testing.T, ctx *hcl.EvalContext, body *hclsyntax.Body) IndexMode {
	t.Helper()
	if _, ok := body.Attributes["array_config"]; ok {
		if evalString(t, ctx, body, "array_config") == "CONTAINS" {
			return ArrayContains
		}
	}
	modes := map[string]IndexMode{"ASCENDING": Ascending, "DESCENDING": Descending}
	m, ok := modes[evalString(t, ctx, body, "order")]
	if !ok {
		t.Fatalf("index at %s: unknown order", body.SrcRange)
	}
	return m
}

func childBlock(body *hclsyntax.Body, typ string) *hclsyntax.Body {
	i := slices.IndexFunc(body.Blocks, func(b *hclsyntax.Block) bool { return b.Type == typ })
	if i < 0 {
		return nil
	}
	return body.Blocks[i].Body
}
