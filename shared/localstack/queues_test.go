package localstack

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/iamcheck"
)

// A stack of three backfill queues grants queues backfill-1 and backfill-2 what Terraform's plan
// grants queue backfill, and nothing else: without them the Backfill function is refused
// CreateTask on the extra queues, as a deployment would be without iam.tf's count.
func TestQueueBindings(t *testing.T) {
	const q = "projects/p/locations/us-central1/queues/backfill"
	in := []iamcheck.Binding{
		{Member: "serviceAccount:fn-backfill@x", Role: "roles/cloudtasks.enqueuer", Resource: q},
		{Member: "serviceAccount:fn-backfill@x", Role: "roles/datastore.user", Resource: "projects/p"},
	}
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{0, []string{q, "projects/p"}},
		{1, []string{q, "projects/p"}},
		{3, []string{q, "projects/p", q + "-1", q + "-2"}},
	} {
		var got []string
		for _, b := range queueBindings(append([]iamcheck.Binding(nil), in...), tc.n) {
			got = append(got, b.Resource)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("queueBindings(%d) resources mismatch (-want +got):\n%s", tc.n, diff)
		}
	}
}
