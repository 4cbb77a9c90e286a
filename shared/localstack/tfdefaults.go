package localstack

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// TerraformDefaults reads the default value of every variable in terraform/variables.tf under
// root: the names the local stack gives its resources are checked against them.
func TerraformDefaults(root string) (map[string]cty.Value, error) {
	path := filepath.Join(root, "terraform", "variables.tf")
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading Terraform variables: %w", err)
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, fmt.Errorf("parsing %s: %s", path, diags.Error())
	}
	out := map[string]cty.Value{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "variable" || len(b.Labels) != 1 {
			continue
		}
		if a, ok := b.Body.Attributes["default"]; ok {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				return nil, fmt.Errorf("variable %s: %s", b.Labels[0], diags.Error())
			}
			out[b.Labels[0]] = v
		}
	}
	return out, nil
}
