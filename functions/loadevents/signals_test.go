package loadevents

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/functest"
)

// TestLogLinesCarryTheMetricsFields: the loader's log lines carry what the log-based metrics of
// terraform/monitoring.tf extract: a loaded message's table, kind and latency from publish to
// durable row (pipeline_latency), and a dead letter's stage, kind and the field at fault
// (dead_letters), "" when BigQuery refused the row.
func TestLogLinesCarryTheMetricsFields(t *testing.T) {
	e := newEnv(t, nil)
	log, buf := functest.Logger()
	e.loader.log = log
	for _, m := range []struct{ id, data string }{
		{"ok", tweet},
		{"bad-query", `{"kind":"search","query":5}`},
		{"bad-id", `{"data":{"text":"no id"}}`},
	} {
		if code := e.deliver(t, m.id, []byte(m.data), nil); code/100 != 2 {
			t.Errorf("deliver(%s) = %d, want 2xx", m.id, code)
		}
	}
	var got []map[string]any
	for _, l := range functest.LogLines(t, buf.String()) {
		switch l["message"] {
		case "message loaded", "message dead-lettered":
			delete(l, "time")
			delete(l, "reason")
			got = append(got, l)
		}
	}
	want := []map[string]any{
		// deliver publishes one second before now, the loader's clock.
		{"severity": "INFO", "message": "message loaded", "message_id": "ok", "table": "tweets", "kind": "tweet", "publish_to_durable_s": 1.0},
		{"severity": "WARNING", "message": "message dead-lettered", "message_id": "bad-query", "stage": "decode", "kind": "unclassified", "field": "query"},
		{"severity": "WARNING", "message": "message dead-lettered", "message_id": "bad-id", "stage": "decode", "kind": "unclassified", "field": "data"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines mismatch (-want +got):\n%s", diff)
	}
}
