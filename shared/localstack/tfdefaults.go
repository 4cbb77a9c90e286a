package localstack

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// TerraformDefaults reads the default value of every variable in terraform/variables.tf under
// root, so the local stack configures its queue and subscription with the values a deployment
// gets, not a second copy of them.
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

// DefaultQueueConfig is the backfill queue as Terraform declares it by default.
func DefaultQueueConfig(root string) (QueueConfig, error) {
	d, err := TerraformDefaults(root)
	if err != nil {
		return QueueConfig{}, err
	}
	var q QueueConfig
	var errs []error
	num := func(name string, dst any) {
		if v, ok := d[name]; !ok {
			errs = append(errs, fmt.Errorf("variable %s has no default", name))
		} else if err := gocty.FromCtyValue(v, dst); err != nil {
			errs = append(errs, fmt.Errorf("variable %s: %w", name, err))
		}
	}
	dur := func(name string, dst *time.Duration) {
		var s string
		num(name, &s)
		if s == "" {
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("variable %s: %w", name, err))
		}
		*dst = v
	}
	num("queue_max_dispatches_per_second", &q.MaxDispatchesPerSecond)
	num("queue_max_concurrent_dispatches", &q.MaxConcurrentDispatches)
	num("queue_max_attempts", &q.MaxAttempts)
	num("queue_max_doublings", &q.MaxDoublings)
	dur("queue_min_backoff", &q.MinBackoff)
	dur("queue_max_backoff", &q.MaxBackoff)
	dur("queue_max_retry_duration", &q.MaxRetryDuration)
	if len(errs) > 0 {
		return q, fmt.Errorf("reading the queue's Terraform defaults: %v", errs)
	}
	return q, nil
}
