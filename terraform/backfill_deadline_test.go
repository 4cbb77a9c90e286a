package terraform_test

import (
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/functions/backfill"
	"github.com/pipelinekit/pipelinekit/functions/runbackfilltask"
)

// recordMargin is the least time a worker keeps, after its work budget, to record the outcome
// before Cloud Tasks stops waiting for its answer (tasks.tf's precondition says the same).
const recordMargin = 30 * time.Second

// TestWorkerStopsBeforeTheDispatchDeadline: the worker's work budget (WORK_TIMEOUT) ends at
// least recordMargin before the worker tasks' dispatch deadline (DISPATCH_DEADLINE), which does
// not outlast the worker function's timeout, in the Go defaults and in Terraform's, so a slow
// task records retrying or failed before the queue gives up on it.
func TestWorkerStopsBeforeTheDispatchDeadline(t *testing.T) {
	if runbackfilltask.DefaultWorkTimeout+recordMargin > backfill.DefaultDispatchDeadline {
		t.Errorf("Go defaults: WORK_TIMEOUT %s + %s exceeds DISPATCH_DEADLINE %s", runbackfilltask.DefaultWorkTimeout, recordMargin, backfill.DefaultDispatchDeadline)
	}
	m := loadModule(t)
	env := terraformEnvValues(t, m)
	duration := func(fn, name string) time.Duration {
		v, ok := env[fn][name]
		if !ok {
			t.Fatalf("Terraform sets no %s for %s", name, fn)
		}
		d, err := time.ParseDuration(v.AsString())
		if err != nil {
			t.Fatalf("%s of %s = %q: %v", name, fn, v.AsString(), err)
		}
		return d
	}
	work := duration(runbackfilltask.EntryPoint, "WORK_TIMEOUT")
	deadline := duration(backfill.EntryPoint, "DISPATCH_DEADLINE")
	if work+recordMargin > deadline {
		t.Errorf("Terraform defaults: WORK_TIMEOUT %s + %s exceeds DISPATCH_DEADLINE %s", work, recordMargin, deadline)
	}
	timeout, _ := functionSettings(t, m, nil).GetAttr(runbackfilltask.EntryPoint).GetAttr("timeout_seconds").AsBigFloat().Int64()
	if deadline > time.Duration(timeout)*time.Second {
		t.Errorf("DISPATCH_DEADLINE %s outlasts RunBackfillTask's timeout of %d s", deadline, timeout)
	}
}
