package runbackfilltask

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/functest"
)

// TestEntryPointRegistered serves the test binary's registered functions through the Functions
// Framework and checks that exactly one, RunBackfillTask, is registered and reaches this
// package's handler.
func TestEntryPointRegistered(t *testing.T) {
	names, base := functest.RegisteredEntryPoints(t, "GOOGLE_CLOUD_PROJECT", "BIGQUERY_DATASET")
	if diff := cmp.Diff([]string{EntryPoint}, names); diff != "" {
		t.Errorf("registered functions mismatch (-want +got):\n%s", diff)
	}
	// No configuration in the child: the handler answers why, which shows it is this package's.
	if code, body := functest.Request(t, http.MethodPost, base+"/"+EntryPoint, "{}"); code != http.StatusInternalServerError || !strings.Contains(body, "GOOGLE_CLOUD_PROJECT: required but not set") {
		t.Errorf("POST /%s = %d %s, want 500 naming GOOGLE_CLOUD_PROJECT", EntryPoint, code, body)
	}
	if code, body := functest.Request(t, http.MethodGet, base+"/SomethingElse", ""); code != http.StatusNotFound {
		t.Errorf("GET /SomethingElse = %d %s, want 404", code, body)
	}
}
