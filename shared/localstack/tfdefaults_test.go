package localstack

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

// TestNamesAreTerraformDefaults: the local stack's resource names are the ones a deployment
// gets by default.
func TestNamesAreTerraformDefaults(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	d, err := TerraformDefaults(root)
	if err != nil {
		t.Fatal(err)
	}
	for variable, want := range map[string]string{
		"events_topic": EventsTopic, "dead_letter_topic": DeadLetterTopic, "loader_subscription": LoaderSub,
		"dataset_id": DefaultDataset, "backfill_queue": BackfillQueue, "backfill_control_queue": ControlQueue, "backfill_job_events_topic": JobEventsTopic,
	} {
		if got := d[variable]; !got.RawEquals(cty.StringVal(want)) {
			t.Errorf("Terraform default of %s = %#v, local stack uses %q", variable, got, want)
		}
	}
	q, err := DefaultQueueConfig()
	if err != nil {
		t.Fatal(err)
	}
	if q.MaxDispatchesPerSecond <= 0 || q.MaxAttempts <= 0 || q.MinBackoff <= 0 || q.MaxBackoff < q.MinBackoff || q.MaxRetryDuration < time.Second {
		t.Errorf("DefaultQueueConfig() = %+v, want positive rates, attempts and backoffs", q)
	}
	if diff := cmp.Diff(d["queue_max_attempts"].AsBigFloat().String(), cty.NumberIntVal(int64(q.MaxAttempts)).AsBigFloat().String()); diff != "" {
		t.Errorf("max attempts mismatch: %s", diff)
	}
}
