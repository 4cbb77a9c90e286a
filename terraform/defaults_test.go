package terraform_test

import (
	"reflect"
	"sort"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyfunc "github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/pipelinekit/pipelinekit/functions/backfill"
	"github.com/pipelinekit/pipelinekit/functions/collectevents"
	"github.com/pipelinekit/pipelinekit/functions/loadevents"
	"github.com/pipelinekit/pipelinekit/functions/runbackfilltask"
	"github.com/pipelinekit/pipelinekit/functions/serverankings"
	"github.com/pipelinekit/pipelinekit/functions/streamtweets"
	"github.com/pipelinekit/pipelinekit/functions/updaterankings"
)

// loaded is one LoadConfig call of a function, through a map: the config it returned (as an
// opaque value compared with reflect.DeepEqual) and its error.
type loaded struct {
	config any
	err    error
}

// loaders calls each function's LoadConfig with a given environment. A new function package
// adds a row here (as to functions in terraform_test.go).
var loaders = map[string]func(env map[string]string) loaded{
	streamtweets.EntryPoint:    loader(streamtweets.LoadConfig),
	collectevents.EntryPoint:   loader(collectevents.LoadConfig),
	loadevents.EntryPoint:      loader(loadevents.LoadConfig),
	backfill.EntryPoint:        loader(backfill.LoadConfig),
	runbackfilltask.EntryPoint: loader(runbackfilltask.LoadConfig),
	updaterankings.EntryPoint:  loader(updaterankings.LoadConfig),
	serverankings.EntryPoint:   loader(serverankings.LoadConfig),
}

func loader[C any](load func(func(string) (string, bool)) (C, error)) func(map[string]string) loaded {
	return func(env map[string]string) loaded {
		c, err := load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		return loaded{c, err}
	}
}

// requiredBase holds a valid value for every variable a function requires, so LoadConfig
// succeeds and a default can be told apart by changing one variable.
var requiredBase = map[string]string{
	"GOOGLE_CLOUD_PROJECT":  "p",
	"BIGQUERY_DATASET":      "events",
	"EVENTS_TOPIC":          "events",
	"JOB_EVENTS_TOPIC":      "backfill-job-events",
	"BACKFILL_QUEUE":        "projects/p/locations/us-central1/queues/backfill",
	"WORKER_URL":            "https://worker.example/RunBackfillTask",
	"BACKFILL_URL":          "https://backfill.example",
	"TASKS_SERVICE_ACCOUNT": "tasks@p.iam.gserviceaccount.com",
	"X_BEARER_TOKEN_SECRET": "projects/p/secrets/x-bearer-token/versions/latest",
}

// terraformEnvValues evaluates each function's environment in locals.function_env with every
// Terraform variable at its default, following references to resource attributes that are
// themselves expressions of variables (the queue's retry_config.max_attempts). Values that
// depend on what only exists once deployed (ids, URLs, emails) are left out.
func terraformEnvValues(t *testing.T, m *module) map[string]map[string]cty.Value {
	t.Helper()
	vars := map[string]cty.Value{}
	for _, b := range m.blocks("variable") {
		if a, ok := b.Body.Attributes["default"]; ok {
			vars[b.Labels[0]] = literal(t, a.Expr)
		}
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)},
		Functions: map[string]ctyfunc.Function{
			"tostring": stdlib.MakeToFunc(cty.String), "join": stdlib.JoinFunc,
			"jsonencode": stdlib.JSONEncodeFunc, "length": stdlib.LengthFunc,
		},
	}
	out := map[string]map[string]cty.Value{}
	for fn, e := range objectKeys(t, m.local(t, "function_env")) {
		out[fn] = map[string]cty.Value{}
		for name, expr := range objectKeys(t, e) {
			ectx := ctx.NewChild()
			ectx.Variables = map[string]cty.Value{}
			ok := true
			for _, tr := range expr.Variables() {
				root := tr.RootName()
				if root == "var" {
					continue
				}
				v, found := resourceAttr(m, ctx, tr)
				if !found {
					ok = false
					break
				}
				ectx.Variables[root] = v
			}
			if !ok {
				continue
			}
			v, diags := expr.Value(ectx)
			if diags.HasErrors() || !v.IsWhollyKnown() {
				continue
			}
			out[fn][name] = v
		}
	}
	return out
}

// resourceAttr evaluates a traversal like google_cloud_tasks_queue.backfill.retry_config[0].x
// by finding the attribute in the resource's block and evaluating it with ctx; it returns the
// value nested as the traversal expects, or false when the attribute is not an expression of
// variables alone.
func resourceAttr(m *module, ctx *hcl.EvalContext, tr hcl.Traversal) (cty.Value, bool) {
	var names []string
	for _, step := range tr[1:] {
		if a, ok := step.(hcl.TraverseAttr); ok {
			names = append(names, a.Name)
		}
	}
	if len(names) < 2 {
		return cty.NilVal, false
	}
	var body *hclsyntax.Body
	for _, b := range m.blocks("resource") {
		if b.Labels[0] == tr.RootName() && b.Labels[1] == names[0] {
			body = b.Body
		}
	}
	for _, n := range names[1 : len(names)-1] {
		if body == nil {
			return cty.NilVal, false
		}
		var next *hclsyntax.Body
		for _, nb := range body.Blocks {
			if nb.Type == n {
				next = nb.Body
			}
		}
		body = next
	}
	if body == nil {
		return cty.NilVal, false
	}
	a, ok := body.Attributes[names[len(names)-1]]
	if !ok {
		return cty.NilVal, false
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	// Rebuild the nesting, a list wherever the traversal indexes.
	steps := tr[1:]
	for i := len(steps) - 1; i >= 0; i-- {
		switch s := steps[i].(type) {
		case hcl.TraverseAttr:
			v = cty.ObjectVal(map[string]cty.Value{s.Name: v})
		case hcl.TraverseIndex:
			v = cty.TupleVal([]cty.Value{v})
		}
	}
	return v, true
}

// TestGoDefaultsAreTerraformDefaults: wherever Terraform sets a function's variable from a
// Terraform default and the Go code has a default of its own for it, the two are the same, so a
// function run without the variable (the local stack, a test, a gcloud deploy that forgot it)
// behaves as deployed. It compares configurations, not names: LoadConfig with the variable unset
// must equal LoadConfig with it set to Terraform's value.
func TestGoDefaultsAreTerraformDefaults(t *testing.T) {
	m := loadModule(t)
	tfEnv := terraformEnvValues(t, m)
	checked := 0
	for _, f := range functions {
		t.Run(f.entryPoint, func(t *testing.T) {
			load, ok := loaders[f.entryPoint]
			if !ok {
				t.Fatalf("no loader for %s: add its LoadConfig to loaders", f.entryPoint)
			}
			base := map[string]string{}
			for _, n := range f.envNames() {
				if v, ok := requiredBase[n]; ok {
					base[n] = v
				}
			}
			want := load(base)
			if want.err != nil {
				t.Fatalf("LoadConfig(required variables only) = %v; add a valid value to requiredBase", want.err)
			}
			names := keys(tfEnv[f.entryPoint])
			sort.Strings(names)
			for _, name := range names {
				if _, required := base[name]; required {
					continue // no Go default to compare
				}
				v := tfEnv[f.entryPoint][name]
				if v.Type() != cty.String {
					t.Errorf("Terraform sets %s to a %s, want a string", name, v.Type().FriendlyName())
					continue
				}
				env := map[string]string{name: v.AsString()}
				for k, x := range base {
					env[k] = x
				}
				got := load(env)
				checked++
				if got.err != nil {
					t.Errorf("%s=%q (Terraform's default): %v", name, v.AsString(), got.err)
				} else if !reflect.DeepEqual(got.config, want.config) {
					t.Errorf("%s: Terraform's default %q differs from the Go default:\nunset: %+v\nset:   %+v", name, v.AsString(), want.config, got.config)
				}
			}
		})
	}
	t.Logf("%d variables compared", checked)
	if checked == 0 {
		t.Error("no variable was compared: the evaluation of locals.function_env found nothing")
	}
}
