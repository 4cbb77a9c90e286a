package terraform_test

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipelinekit/pipelinekit/functions/collectevents"
)

// TestCollectMemoryBoundMatchesGo: the precondition on CollectEvents' memory uses the Go code's
// bound of a request's peak and of an instance's base, for any body cap, and the defaults pass
// it.
func TestCollectMemoryBoundMatchesGo(t *testing.T) {
	m := loadModule(t)
	peak := m.local(t, "collect_request_peak_bytes")
	for _, body := range []int64{1024, 1 << 20, collectevents.DefaultMaxBodyBytes, 8039082, 32 << 20} {
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
			"var": cty.ObjectVal(map[string]cty.Value{"collect_max_body_bytes": cty.NumberIntVal(body)}),
		}}
		v, diags := peak.Value(ctx)
		if diags.HasErrors() {
			t.Fatalf("evaluating collect_request_peak_bytes: %s", diags.Error())
		}
		got, _ := v.AsBigFloat().Int64()
		if want := collectevents.RequestPeakBytes(body); got != want {
			t.Errorf("collect_request_peak_bytes for a body cap of %d = %d, want RequestPeakBytes %d", body, got, want)
		}
	}
	base, _ := literal(t, m.local(t, "collect_instance_base_bytes")).AsBigFloat().Int64()
	if base != collectevents.InstanceBaseBytes {
		t.Errorf("collect_instance_base_bytes = %d, want InstanceBaseBytes %d", base, collectevents.InstanceBaseBytes)
	}
	fn := functionSettings(t, m, nil).GetAttr(collectevents.EntryPoint)
	conc, _ := fn.GetAttr("concurrency").AsBigFloat().Int64()
	if mem := fn.GetAttr("memory").AsString(); mem != "2Gi" {
		t.Errorf("CollectEvents memory = %s; update this test's figure with it", mem)
	}
	if need := collectevents.InstanceBaseBytes + conc*collectevents.RequestPeakBytes(collectevents.DefaultMaxBodyBytes); need > 2<<30 {
		t.Errorf("CollectEvents at its defaults needs %d bytes, over its 2 GiB", need)
	}
}
