package loadevents

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// TestProductionPushThroughFunctionsFramework: the deployed shape end to end. The functions
// binary serves LoadEvents alone at "/" (FUNCTION_TARGET, as Cloud Functions runs it, through
// the Functions Framework), and a push subscription's body is posted to the endpoint Terraform
// configures (/projects/P/topics/T): the dead letter keeps the subscription and delivery attempt,
// and the framework logs no warning about the path.
func TestProductionPushThroughFunctionsFramework(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the functions binary")
	}
	e := newEnv(t, nil)
	ctx := context.Background()
	root, err := localstack.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := localstack.BuildFunctions(ctx, root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	fn, err := localstack.StartFunctions(ctx, bin, 0, map[string]string{
		"FUNCTION_TARGET":         EntryPoint,
		"GOOGLE_CLOUD_PROJECT":    project,
		"BIGQUERY_DATASET":        e.dataset,
		warehouse.EmulatorHostEnv: e.bq.Addr(),
	}, &logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fn.Stop)

	url := fn.URL + "/projects/" + project + "/topics/events"
	if code := push(t, url, pushBody("fw-bad", []byte(`{"kind":"search"}`), 4)); code/100 != 2 {
		t.Errorf("push of an invalid event = %d, want 2xx (dead-lettered)", code)
	}
	if code := push(t, url, pushBody("fw-good", []byte(`{"kind":"search","query":"q"}`), 1)); code/100 != 2 {
		t.Errorf("push of a good event = %d, want 2xx", code)
	}
	got := e.query(t, "SELECT message_id, subscription, delivery_attempt FROM `DS.dead_letters`")
	want := []map[string]any{{"message_id": "fw-bad", "subscription": "projects/" + project + "/subscriptions/events-loader", "delivery_attempt": int64(4)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
	if got := e.query(t, "SELECT message_id FROM `DS.app_events`"); len(got) != 1 || got[0]["message_id"] != "fw-good" {
		t.Errorf("app_events = %v, want fw-good", got)
	}
	fn.Stop()
	if strings.Contains(logs.String(), "failed to extract Pub/Sub topic") {
		t.Errorf("the Functions Framework could not read the topic from the path:\n%s", logs.String())
	}
}
