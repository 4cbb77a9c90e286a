package terraform_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pipelinekit/pipelinekit/functions/runbackfilltask"
	"github.com/pipelinekit/pipelinekit/shared/sources/ga4"
)

// workerFootprint is what a RunBackfillTask instance holds besides its tasks: the functions
// binary idles at about 30 MB of RSS after its first answer (docs/performance.md, Cold start),
// and its Firestore, Storage Write and Cloud Tasks clients keep connection buffers; the rest is
// the collector's headroom.
const workerFootprint = 128 << 20

// TestWorkerMemoryHoldsItsConcurrency: RunBackfillTask's memory holds concurrency GA4 tasks at
// their stated bound (ga4.TaskMemory) over the instance's own footprint, so a
// change to either (a smaller instance, a higher concurrency, a bigger bound) is caught here.
func TestWorkerMemoryHoldsItsConcurrency(t *testing.T) {
	m := loadModule(t)
	fn := functionSettings(t, m, nil).GetAttr(runbackfilltask.EntryPoint)
	memory := fn.GetAttr("memory").AsString()
	concurrency, _ := fn.GetAttr("concurrency").AsBigFloat().Int64()
	limit, err := cloudRunMemory(memory)
	if err != nil {
		t.Fatalf("RunBackfillTask's memory %q: %v", memory, err)
	}
	if need := concurrency*ga4.TaskMemory + workerFootprint; need > limit {
		t.Errorf("RunBackfillTask: %d tasks x %d MiB + %d MiB = %d MiB, over its memory of %s",
			concurrency, ga4.TaskMemory>>20, workerFootprint>>20, need>>20, memory)
	}
}

// cloudRunMemory reads a memory setting in the units Terraform's available_memory takes here
// (Mi, Gi, M, G).
func cloudRunMemory(s string) (int64, error) {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"Mi", 1 << 20}, {"Gi", 1 << 30}, {"M", 1_000_000}, {"G", 1_000_000_000}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v * u.mult, err
		}
	}
	return 0, strconv.ErrSyntax
}
